// Command sleeper is a test function for the runtime pool: it calls call
// (if set) with its invocation's trace id, as the AWS SDK sends it, waits
// sleepMs, then answers its pid, or fails when fail is set.
package main

import (
	"context"
	"errors"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

type in struct {
	SleepMs int    `json:"sleepMs"`
	Fail    bool   `json:"fail"`
	Call    string `json:"call"`
}

type out struct {
	PID int    `json:"pid"`
	Env string `json:"env"`
}

func main() {
	lambda.Start(func(ctx context.Context, e in) (out, error) {
		if e.Call != "" {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.Call, nil)
			if err != nil {
				return out{}, err
			}
			req.Header.Set("X-Amzn-Trace-Id", os.Getenv("_X_AMZN_TRACE_ID"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return out{}, err
			}
			_ = resp.Body.Close()
		}
		time.Sleep(time.Duration(e.SleepMs) * time.Millisecond)
		if e.Fail {
			return out{}, errors.New("asked to fail")
		}
		return out{PID: os.Getpid(), Env: os.Getenv("FIXTURE")}, nil
	})
}
