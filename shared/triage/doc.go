// Package triage holds the symptom-triage rules of the health bot and the
// engine that applies them to a patient's message.
//
// The bot never diagnoses. When a message shows a red-flag symptom its
// first reply is the emergency guidance of [Engine.Guidance] (call 911, or
// call or text 988 for suicide and crisis) and the conversation is
// escalated urgently; other symptoms get a triage level (nurse line, book a
// visit, self-care) and that level's general advice. The bot assesses every
// patient message, at any point of the conversation.
//
// The rules are data a clinician reviews: rules.yaml, embedded in the
// binary and validated by [Parse]. testdata/cases.yaml tests them case by
// case.
//
// # Matching
//
// A message is matched against the phrases of the rules as follows.
//
//   - Normalising: lower case; accents folded (á→a, é→e, í→i, ó→o, ú→u,
//     ü→u, ñ→n, and the other common Latin accents, also when typed as
//     combining marks); apostrophes removed (can't → cant, I'm → im, also ’
//     and `); every other character that is not a letter or a digit
//     separates words. Phrases in the rules are normalised the same way.
//   - Clauses: the text is split into clauses first, at . ; , ! ? (and at
//     the Spanish ¿ ¡ and at line breaks, which chat messages use as
//     sentence ends) and at the words but, pero, however, although,
//     aunque, sino. A phrase never spans two clauses and a negation never
//     reaches into another clause.
//   - Phrases: a phrase matches when its words appear consecutively in a
//     clause, each equal to the text's word or within Damerau–Levenshtein
//     distance (optimal string alignment) 1 of it when the phrase word has
//     5 to 7 letters, 2 when it has 8 or more; words of 4 letters or fewer
//     must be exact. So "chset pain", "cant breath", "shortnes of breath"
//     and "sucidal" match.
//   - Distinct words: typo tolerance also makes real words look like typos
//     ("overdue" is one edit from "overdose" and would flag an overdose on
//     a billing question; "waiting" is two from "fainting"). The words of
//     distinct_words in rules.yaml are real words that only ever match
//     themselves, never another phrase word by tolerance. This list is an
//     addition to the matching rules above; it was drawn up by comparing
//     every phrase word with the 40,000 most frequent English and Spanish
//     words.
//   - Negation: a match is negated when one of the cues no, not, dont,
//     doesnt, didnt, never, without, deny, denies, nor, isnt, arent,
//     wasnt, havent, hasnt, neither (English) or no, sin, nunca, ni,
//     tampoco, niego (Spanish) stands in the same clause within the 3 words
//     before the phrase's first word. Words of the phrase itself are not
//     cues: "I can't breathe" matches "cant breathe", "no puedo respirar"
//     matches itself. A rule matches when at least one of its matches is
//     not negated. "I don't have chest pain" is negated; in "no chest pain,
//     but I can't breathe" the chest pain is negated and the breathing is
//     not.
//   - Negation is not applied to a red flag marked ignore_negation. The
//     suicide and crisis flag is: "I'm not suicidal", "I don't want to die"
//     or "no quiero hacerme daño" still give the crisis line and alert a
//     person. This is the conservative choice for a chat that cannot ask a
//     follow-up question safely; a clinician should confirm it.
//   - Combinations: a rule may have all_of groups; it then also matches
//     when every group has a non-negated match somewhere in the message
//     (for example pregnancy × heavy bleeding, severe pain, water broke,
//     baby not moving, seizure, severe headache or vision changes).
//   - Result: every red flag that matches is reported, in the order of
//     rules.yaml, which is the order of severity; any red flag makes the
//     level LevelEmergency. Otherwise the highest level with a matching
//     rule wins: nurse_line, then book_visit, then self_care.
//
// # Known limits
//
// The engine reads words, not meaning. It does not tell past from present
// ("my father had a heart attack last year" flags chest pain), a negation
// reaches only 3 words and does not carry over "or" ("no chest pain or
// shortness of breath" flags the breathing), and a one-word red flag
// ("stroke", "seizure") flags in any context ("the stroke clinic"). These
// errors all escalate rather than miss, and testdata/cases.yaml records
// them under conservative.
//
// # Guidance
//
// For an emergency the guidance is that of the most severe red flag; when
// a 988 flag matched together with a more severe 911 flag, the crisis line
// (988) follows the 911 guidance, so that both numbers are given. Texts are
// in English and Spanish; a locale whose language is "es" ("es", "es-US")
// gets Spanish and any other locale English.
package triage
