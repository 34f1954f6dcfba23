// Command triagewords lists the real words that the triage rules would take
// for a typo of one of their words: it reads candidate words (one per line,
// the most frequent English and Spanish words) on standard input, adds the
// rules' own words (an "anticoagulante" must not be read as an
// "anticongelante"), and prints each that matches a rule word by typo
// tolerance, unless every rule word it matches is a longer or shorter form
// of it ("abejas" for "abeja", at least 5 letters, within 2 letters).
// scripts/triage-words.sh adds them to shared/triage/distinct_words.txt.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/patientservicecenter/psc/shared/triage"
	"github.com/patientservicecenter/psc/shared/words"
)

func main() {
	e, err := triage.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	rules, err := os.ReadFile("shared/triage/rules.yaml")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var candidates []string
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		candidates = append(candidates, words.Split(in.Text())...)
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	seen := map[string]bool{}
	for _, tok := range append(candidates, words.Split(string(rules))...) {
		if seen[tok] {
			continue
		}
		seen[tok] = true
		near := e.Typos(tok)
		if len(near) > 0 && !allForms(tok, near) {
			fmt.Println(tok)
		}
	}
}

// allForms reports whether every rule word is a longer or shorter form of
// the word: one starts with the other, within 2 letters, the word 5
// letters or more.
func allForms(w string, near []string) bool {
	if len([]rune(w)) < 5 {
		return false
	}
	for _, n := range near {
		d := len(w) - len(n)
		if !(strings.HasPrefix(w, n) || strings.HasPrefix(n, w)) || d > 2 || d < -2 {
			return false
		}
	}
	return true
}
