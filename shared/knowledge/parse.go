package knowledge

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// file is the schema of articles.yaml.
type file struct {
	Articles []struct {
		ID string         `yaml:"id"`
		EN *articleFields `yaml:"en"`
		ES *articleFields `yaml:"es"`
	} `yaml:"articles"`
}

type articleFields struct {
	Title    string   `yaml:"title"`
	Keywords []string `yaml:"keywords"`
	Answer   string   `yaml:"answer"`
}

// Limits of an article. An answer is sent as one chat message, and a
// patient reads it on a phone.
const (
	maxTitle  = 80
	maxAnswer = 1200
)

var idPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// Parse reads and checks a knowledge base: every article has a unique id
// and both an English and a Spanish version, each with a title, keywords
// and an answer within the limits. Unknown fields are errors, so a typo
// in a field name does not silently drop content.
func Parse(data []byte) (*Index, error) {
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, errorf("%w", err)
	}
	if len(f.Articles) == 0 {
		return nil, errorf("no articles")
	}
	byLocale := map[string][]Article{}
	seen := map[string]bool{}
	var errs []error
	for i, a := range f.Articles {
		where := a.ID
		if where == "" {
			where = fmt.Sprintf("article %d", i+1)
		}
		switch {
		case !idPattern.MatchString(a.ID):
			errs = append(errs, errorf("%s: id must be lower-case words joined by '-'", where))
		case seen[a.ID]:
			errs = append(errs, errorf("%s: id used twice", where))
		}
		seen[a.ID] = true
		for _, v := range []struct {
			locale string
			f      *articleFields
		}{{"en", a.EN}, {"es", a.ES}} {
			if v.f == nil {
				errs = append(errs, errorf("%s: no %s version", where, v.locale))
				continue
			}
			art := Article{ID: a.ID, Locale: v.locale, Title: strings.TrimSpace(v.f.Title), Answer: strings.TrimSpace(v.f.Answer), Keywords: v.f.Keywords}
			errs = append(errs, check(where+" ("+v.locale+")", art)...)
			byLocale[v.locale] = append(byLocale[v.locale], art)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	x := &Index{locales: map[string]*corpus{}}
	for locale, arts := range byLocale {
		x.locales[locale] = newCorpus(languages[locale], arts)
	}
	return x, nil
}

// check returns what is wrong with one language version of an article.
func check(where string, a Article) []error {
	var errs []error
	switch n := utf8.RuneCountInString(a.Title); {
	case n == 0:
		errs = append(errs, errorf("%s: no title", where))
	case n > maxTitle:
		errs = append(errs, errorf("%s: title longer than %d characters", where, maxTitle))
	}
	switch n := utf8.RuneCountInString(a.Answer); {
	case n == 0:
		errs = append(errs, errorf("%s: no answer", where))
	case n > maxAnswer:
		errs = append(errs, errorf("%s: answer is %d characters, more than %d", where, n, maxAnswer))
	}
	if len(a.Keywords) == 0 {
		errs = append(errs, errorf("%s: no keywords", where))
	}
	for i, k := range a.Keywords {
		if strings.TrimSpace(k) == "" {
			errs = append(errs, errorf("%s: keyword %d is empty", where, i+1))
		}
		if slices.Contains(a.Keywords[:i], k) {
			errs = append(errs, errorf("%s: keyword %q listed twice", where, k))
		}
	}
	return errs
}
