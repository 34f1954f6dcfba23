// Package i18n holds what the product says in its two languages.
package i18n

// Text is a text in English and Spanish, as content files write it.
type Text struct {
	EN string `yaml:"en"`
	ES string `yaml:"es"`
}

// In returns the text in the locale: Spanish for "es" (English when no
// Spanish is given), else English.
func (t Text) In(locale string) string {
	if locale == "es" && t.ES != "" {
		return t.ES
	}
	return t.EN
}
