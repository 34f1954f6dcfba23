// Command sleeper is a test function for the runtime pool: it waits
// sleepMs, then answers its pid, or fails when fail is set.
package main

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

type in struct {
	SleepMs int  `json:"sleepMs"`
	Fail    bool `json:"fail"`
}

type out struct {
	PID int    `json:"pid"`
	Env string `json:"env"`
}

func main() {
	lambda.Start(func(ctx context.Context, e in) (out, error) {
		time.Sleep(time.Duration(e.SleepMs) * time.Millisecond)
		if e.Fail {
			return out{}, errors.New("asked to fail")
		}
		return out{PID: os.Getpid(), Env: os.Getenv("FIXTURE")}, nil
	})
}
