// Package layoutcheck holds the test that keeps the tree's layers apart:
// what the folders say (docs/architecture.md) is what the imports do.
package layoutcheck

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/patientservicecenter/psc/"

// TestTheLayersImportOnlyWhatTheyMay: a domain package (shared/<name>)
// imports no edge, adapter, local stack, script or AWS SDK package — so no
// wire format, no DynamoDB; an adapter (shared/adapter/<name>) imports
// only the domain, the SDK and libraries; nothing under shared/ imports
// the local stack or the scripts (product code never knows it is tested).
func TestTheLayersImportOnlyWhatTheyMay(t *testing.T) {
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "./shared/...")
	cmd.Dir = "../.."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	domains := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		kind := "domain"
		switch {
		case strings.HasPrefix(pkg, "shared/edge/"):
			kind = "edge"
		case strings.HasPrefix(pkg, "shared/adapter/"):
			kind = "adapter"
		default:
			domains++
		}
		for _, imp := range fields[1:] {
			own := strings.TrimPrefix(imp, module)
			bad := strings.HasPrefix(own, "localstack/") || strings.HasPrefix(own, "scripts/") || strings.HasPrefix(own, "functions/")
			switch kind {
			case "domain":
				bad = bad || strings.HasPrefix(own, "shared/edge/") || strings.HasPrefix(own, "shared/adapter/") || strings.HasPrefix(imp, "github.com/aws/")
			case "adapter":
				bad = bad || strings.HasPrefix(own, "shared/edge/") || (strings.HasPrefix(own, "shared/adapter/") && own != pkg)
			}
			if bad {
				t.Errorf("%s (%s) imports %s", pkg, kind, own)
			}
		}
	}
	if domains < 10 {
		t.Fatalf("found %d domain packages: the listing is not the tree's", domains)
	}
}
