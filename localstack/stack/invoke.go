package stack

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/patientservicecenter/psc/localstack/lambdart"
)

// invokeAPI serves Lambda's Invoke (RequestResponse) for the template's
// functions, by name or ARN: 200 with the function's answer, and on a
// function error the X-Amz-Function-Error header with its error document,
// as Lambda answers. It is for operators' tools on this machine: it does
// not evaluate IAM (the emulator's Lambda does not run these functions).
func (s *Stack) invokeAPI(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if i := strings.LastIndex(name, ":function:"); i >= 0 {
		name = name[i+len(":function:"):]
	}
	var pool *lambdart.Pool
	for id, fn := range s.Outputs.Functions {
		if fn == name || id == name {
			pool = s.pools[id]
		}
	}
	if pool == nil {
		(&awsError{http.StatusNotFound, "ResourceNotFoundException", "Function not found: " + name}).write(w)
		return
	}
	if t := r.Header.Get("X-Amz-Invocation-Type"); t != "" && t != "RequestResponse" {
		(&awsError{http.StatusBadRequest, "InvalidParameterValueException", "the local stack runs RequestResponse invocations only"}).write(w)
		return
	}
	payload, err := io.ReadAll(io.LimitReader(r.Body, 6<<20))
	if err != nil {
		(&awsError{http.StatusBadRequest, "InvalidRequestContentException", "reading the payload"}).write(w)
		return
	}
	out, err := pool.Invoke(r.Context(), payload)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	var fe *lambdart.FunctionError
	switch {
	case errors.As(err, &fe):
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		out, _ = json.Marshal(fe)
	case err != nil:
		(&awsError{http.StatusInternalServerError, "ServiceException", err.Error()}).write(w)
		return
	}
	_, _ = w.Write(out)
}
