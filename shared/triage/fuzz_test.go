package triage

import (
	"slices"
	"testing"
)

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

// FuzzRedFlagStays checks that a red flag stays one, with the same red
// flags, whatever text follows it in a sentence of its own: small talk, a
// request, a denial of something else.
func FuzzRedFlagStays(f *testing.F) {
	for _, s := range []string{"", "thanks", "also can I book an appointment", "no fever though", "gracias, y necesito una cita",
		"I had a heart attack years ago", "not suicidal", "what are the signs of a stroke", "\xff", "no no no"} {
		f.Add(s)
	}
	e, err := Load()
	if err != nil {
		f.Fatal(err)
	}
	seeds := []string{
		"my chest feels like something heavy is sitting on it", "my dad's face is drooping on one side",
		"I can't breathe", "my son swallowed some of grandma's pills", "I want to end my life",
		"mi bebé de 6 semanas tiene fiebre", "siento una presión en el pecho que se me va al brazo",
		"I'm going to hurt my neighbor, I have a gun",
	}
	want := make([][]string, len(seeds))
	for i, s := range seeds {
		if want[i] = flagIDs(e.Assess(s).RedFlags); len(want[i]) == 0 {
			f.Fatalf("seed %q is not a red flag", s)
		}
	}
	f.Fuzz(func(t *testing.T, suffix string) {
		for i, s := range seeds {
			got := flagIDs(e.Assess(s + "\n" + suffix).RedFlags)
			for _, id := range want[i] {
				if !slices.Contains(got, id) {
					t.Fatalf("%q + %q: red flags %v, lost %s", s, suffix, got, id)
				}
			}
		}
	})
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
