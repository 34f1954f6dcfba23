// Package triage holds the symptom-triage rules of the health bot and the
// engine that applies them to a patient's message. The triage is
// complaint-based, in the spirit of the telephone-triage protocols nurse
// lines use, and the rules are data a clinician reviews: rules.yaml,
// embedded in the binary and validated by [Parse]; every red flag and
// complaint names its public clinical source.
//
// The bot never diagnoses. [Engine.Assess] tells, for one message:
//
//   - the red flags it reports as happening now: the bot's first reply is
//     the emergency guidance of [Engine.Guidance] (911; 988 for suicide and
//     self-harm; 911 and Poison Control for a swallowed substance) and the
//     conversation is escalated urgently;
//   - otherwise the complaint whose emergency cannot be ruled out from the
//     message ([Result.Ask]): the bot asks its questions
//     ([Engine.Question], the 911 line first) and a yes gives its red flag
//     ([Engine.Emergency]); an answer that names one of its signs counts as
//     a yes ([Engine.Confirms]);
//   - the red flags it mentions only as a past event, family history,
//     question, hypothetical or risk score ([Result.Check]): the bot asks
//     "is this happening now?" ([Engine.NowQuestion]);
//   - a denied crisis ([Result.CrisisMention]): the crisis line is offered
//     on a line of its own ([Engine.CrisisLine]);
//   - the triage level of the other rules (nurse line, book a visit,
//     self-care) with its advice.
//
// # Matching
//
//   - Normalising: lower case; accents folded; apostrophes removed (can't →
//     cant); every other character that is not a letter or a digit
//     separates words. Phrases in the rules are normalised the same way.
//   - Sentences end at . ! ? ; ¿ ¡ and line breaks (a . or , between digits
//     ends nothing: 38.5); clauses also end at commas and at but, pero,
//     however, although, aunque, sino. A phrase never spans two clauses.
//   - Phrases match consecutive words, each equal to the text's word or,
//     for words of 5 to 7 letters, within one edit (optimal string
//     alignment distance), two for 8 letters or more. The real words of
//     distinct_words.txt never match another word by tolerance
//     ("calling" is not "scalding"); scripts/triage-words.sh makes it. A
//     word n<lo>to<hi> matches any number from lo to hi, written in digits
//     or as a number word.
//   - Concepts are named groups of phrases; a rule's when line matches when
//     each of its concepts has an occurrence in one sentence, within the
//     rules' window of the first (a red flag may set its own), at distinct
//     places.
//   - Negation: a cue (no, not, dont, never, without, sin, nunca, ni...)
//     within 3 words before an occurrence negates it; a denial of having
//     ("dont have", "no tengo", "never had") negates every occurrence after
//     it in its clause. Words of a phrase are not cues for that phrase ("no
//     puedo respirar" matches itself).
//   - Context: a part of a clause (clauses split again at an "and" or "y"
//     that starts a new statement) with a reported marker (past, family
//     history, question, hypothetical, risk score) reports nothing
//     happening now unless it also holds a recent or a now marker; a past
//     verb ("he had", "tuvo") makes the phrase starting within 3 words
//     after it a past event unless a recent marker ("an hour ago") says
//     otherwise; concepts listed as states (pregnant, diabetic, a baby)
//     are never past; a flag marked threat counts a hypothetical ("if he
//     does it again I'll kill him") as present; an
//     occurrence within 2 words of a service's name ("clinic", "meds") is
//     a name and counts for red flags and complaints; a neutral phrase
//     ("chest cold") takes its words from every phrase it does not lie
//     inside.
//   - A red flag's unless concepts, in the sentence of one of its phrases
//     or two-concept lines, keep it from matching.
//
// # Known limits
//
// The engine reads words, not meaning: sarcasm, long stories whose signs
// are spread over several sentences, and a negation that reaches further
// than 3 words ("I don't think that what I feel is chest pain") can
// mislead it. Its errors are measured on the development and held-out sets
// (docs/bot.md).
package triage
