// Package knowledge is the bot's knowledge base: articles that answer the
// questions patients ask most (hours, parking, billing, the portal, ...),
// in English and Spanish, and a ranked retrieval over them.
//
// The articles are data (articles.yaml, embedded in the binary and checked
// by Parse). Retrieval is BM25 over each article's title, keywords and
// answer, with the words stemmed (Snowball), stop words left out and
// one-letter typos tolerated. Answer only returns an article when it
// covers most of what the question asks about, so a question the base
// cannot answer goes on to a person instead of getting a wrong article.
package knowledge

import (
	_ "embed"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/patientservicecenter/psc/shared/words"
)

// Article is one answer of the knowledge base in one language.
type Article struct {
	ID       string
	Locale   string
	Title    string
	Answer   string
	Keywords []string
}

// Hit is an article found for a question.
type Hit struct {
	Article Article
	// Score is the article's BM25 score for the question.
	Score float64
	// Coverage is the share of the question's information (the IDF of its
	// words) that the article matches, from 0 to 1. Words the base has
	// never seen count as much as its rarest words.
	Coverage float64
}

// Retrieval parameters. k1 and b are BM25's usual values; the field
// weights make a word in the title or the keywords count more than one
// in the body of the answer.
const (
	k1             = 1.2
	b              = 0.75
	weightTitle    = 2
	weightKeywords = 3
	weightAnswer   = 1

	// MinCoverage is the coverage Answer requires of its best hit.
	MinCoverage = 0.5
)

// DefaultLocale is used for a locale the base does not have.
const DefaultLocale = "en"

// Index is a parsed, searchable knowledge base. It is safe for concurrent
// use: nothing changes after Parse.
type Index struct {
	locales map[string]*corpus
}

// corpus is the index of one language.
type corpus struct {
	lang     language
	articles []Article
	postings map[string][]posting // stem → articles with their weighted frequency
	lengths  []float64            // weighted length of each article
	avgLen   float64
	surface  map[string]string  // every word seen → its stem, for typo matching
	byLength map[int][]string   // words seen, by length in runes
	idf      map[string]float64 // per stem
	unseen   float64            // idf of a stem in no article
}

type posting struct {
	doc int
	tf  float64
}

//go:embed articles.yaml
var articlesYAML []byte

// Load parses the embedded knowledge base.
func Load() (*Index, error) {
	return Parse(articlesYAML)
}

// Search returns up to k articles of the locale ranked for the question,
// best first; articles that match none of its words are left out.
func (x *Index) Search(question, locale string, k int) []Hit {
	c := x.corpus(locale)
	terms := c.terms(question)
	if len(terms) == 0 || k <= 0 {
		return nil
	}
	scores := make([]float64, len(c.articles))
	covered := make([]float64, len(c.articles))
	var total float64
	for _, t := range terms {
		idf, ok := c.idf[t]
		if !ok {
			total += c.unseen
			continue
		}
		total += idf
		for _, p := range c.postings[t] {
			norm := k1 * (1 - b + b*c.lengths[p.doc]/c.avgLen)
			scores[p.doc] += idf * p.tf * (k1 + 1) / (p.tf + norm)
			covered[p.doc] += idf
		}
	}
	var hits []Hit
	for i, s := range scores {
		if s > 0 {
			hits = append(hits, Hit{Article: c.articles[i], Score: s, Coverage: covered[i] / total})
		}
	}
	slices.SortFunc(hits, func(a, b Hit) int {
		if a.Score != b.Score {
			if a.Score > b.Score {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Article.ID, b.Article.ID)
	})
	return hits[:min(k, len(hits))]
}

// Answer returns the article that answers the question, if the best hit
// covers at least MinCoverage of it.
func (x *Index) Answer(question, locale string) (Article, bool) {
	hits := x.Search(question, locale, 1)
	if len(hits) == 0 || hits[0].Coverage < MinCoverage {
		return Article{}, false
	}
	return hits[0].Article, true
}

// Lookup returns the article with the id in the locale.
func (x *Index) Lookup(id, locale string) (Article, bool) {
	for _, a := range x.corpus(locale).articles {
		if a.ID == id {
			return a, true
		}
	}
	return Article{}, false
}

// Locales lists the languages of the base.
func (x *Index) Locales() []string {
	var out []string
	for l := range x.locales {
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}

func (x *Index) corpus(locale string) *corpus {
	if c, ok := x.locales[locale]; ok {
		return c
	}
	return x.locales[DefaultLocale]
}

// newCorpus indexes the articles of one language.
func newCorpus(lang language, articles []Article) *corpus {
	c := &corpus{
		lang:     lang,
		articles: articles,
		postings: map[string][]posting{},
		lengths:  make([]float64, len(articles)),
		surface:  map[string]string{},
		byLength: map[int][]string{},
		idf:      map[string]float64{},
	}
	for i, a := range articles {
		tf := map[string]float64{}
		add := func(text string, weight float64) {
			for _, w := range c.lang.words(text) {
				stem := c.lang.stem(w)
				tf[stem] += weight
				c.lengths[i] += weight
				if _, seen := c.surface[w]; !seen {
					c.surface[w] = stem
					n := len([]rune(w))
					c.byLength[n] = append(c.byLength[n], w)
				}
			}
		}
		add(a.Title, weightTitle)
		add(strings.Join(a.Keywords, " "), weightKeywords)
		add(a.Answer, weightAnswer)
		for _, stem := range sortedKeys(tf) {
			c.postings[stem] = append(c.postings[stem], posting{doc: i, tf: tf[stem]})
		}
		c.avgLen += c.lengths[i]
	}
	c.avgLen /= float64(len(articles))
	n := float64(len(articles))
	for stem, ps := range c.postings {
		df := float64(len(ps))
		c.idf[stem] = math.Log(1 + (n-df+0.5)/(df+0.5))
	}
	c.unseen = math.Log(1 + (n+0.5)/0.5)
	for _, ws := range c.byLength {
		slices.Sort(ws)
	}
	return c
}

// terms returns the distinct stems of a question. A word the base has
// never seen is replaced by the closest word it has seen, within one edit
// (two for words of eight letters or more), so "perscription" finds the
// refills article; words still unknown stay, and lower the coverage.
func (c *corpus) terms(question string) []string {
	var out []string
	for _, w := range c.lang.words(question) {
		stem := c.lang.stem(w)
		if _, ok := c.idf[stem]; !ok {
			if near, ok := c.nearest(w); ok {
				stem = near
			}
		}
		if !slices.Contains(out, stem) {
			out = append(out, stem)
		}
	}
	return out
}

// nearest finds the stem of the seen word closest to w, if one is close
// enough to be a typo of it.
func (c *corpus) nearest(w string) (string, bool) {
	runes := []rune(w)
	maxDist := 0
	switch {
	case len(runes) >= 8:
		maxDist = 2
	case len(runes) >= 5:
		maxDist = 1
	default:
		return "", false
	}
	best, bestDist := "", maxDist+1
	for n := len(runes) - maxDist; n <= len(runes)+maxDist; n++ {
		for _, cand := range c.byLength[n] {
			if d := words.Distance(runes, []rune(cand)); d < bestDist {
				best, bestDist = cand, d
			}
		}
	}
	if best == "" {
		return "", false
	}
	return c.surface[best], true
}

func sortedKeys(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// errorf formats a validation error of the articles file.
func errorf(format string, args ...any) error {
	return fmt.Errorf("knowledge base: "+format, args...)
}
