package triage

import "testing"

// FuzzAssess checks that no text panics and every result keeps its promises.
func FuzzAssess(f *testing.F) {
	for _, s := range []string{
		"", "I have crushing chest pain", "no chest pain, but I can't breathe", "I'm not suicidal",
		"estoy embarazada y estoy sangrando", "¿Cuál es el horario de visitas?", "\xff\xfe", "no no no no",
		"a,b;c.d!e?f¿g¡h\ni", "ÁÉÍÓÚ ñ ü ’ ' `", "chest chest chest pain pain", "pregnant. bleeding",
	} {
		f.Add(s)
	}
	e, err := Load()
	if err != nil {
		f.Fatal(err)
	}
	ids := ruleIDs(e)
	f.Fuzz(func(t *testing.T, text string) { checkInvariants(t, e, ids, text) })
}

// BenchmarkAssess assesses a typical 20-word message.
func BenchmarkAssess(b *testing.B) {
	e := engine(b)
	const msg = "I have had a bad sore throat and a runny nose for two days, and now my ear hurts too"
	b.ReportAllocs()
	for b.Loop() {
		e.Assess(msg)
	}
}
