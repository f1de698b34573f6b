//! "Did you mean": the keyword of the language a misspelt word most likely is. The keywords are
//! the lists of [`vocabulary`](super::vocabulary); this module only measures how near a word is.

use super::vocabulary::SOCKET_STATEMENTS;

/// Words people write for an action under another name (from firewalls and other policy
/// languages), with the action ARMR calls it: not misspellings, so no edit distance finds them.
const ACTION_SYNONYMS: &[(&str, &str)] = &[
    ("deny", "protect"),
    ("block", "protect"),
    ("reject", "protect"),
    ("drop", "protect"),
    ("refuse", "protect"),
    ("forbid", "protect"),
    ("permit", "allow"),
    ("pass", "allow"),
    ("log", "detect"),
    ("monitor", "detect"),
    ("audit", "detect"),
    ("alert", "detect"),
    ("warn", "detect"),
];

/// The keyword of `keywords` that `word` most likely misspells: the nearest by edit distance
/// (case aside; a swap of two neighbours is one edit), when near enough that the guess is
/// useful: one edit for a word of up to four letters, two for longer ones. `None` when no keyword
/// is near, or two are equally near.
pub fn suggest(word: &str, keywords: &[&'static str]) -> Option<&'static str> {
    let word = word.to_ascii_lowercase();
    let mut best: Option<(usize, &'static str)> = None;
    let mut tie = false;
    for &keyword in keywords {
        let distance = edit_distance(&word, &keyword.to_ascii_lowercase());
        if distance == 0 || distance > limit(keyword) {
            continue;
        }
        match best {
            Some((d, _)) if d < distance => {}
            Some((d, _)) if d == distance => tie = true,
            _ => {
                best = Some((distance, keyword));
                tie = false;
            }
        }
    }
    if tie { None } else { best.map(|(_, k)| k) }
}

/// True when `word` is near enough to `keyword` to be taken for a misspelling of it.
pub fn is_near(word: &str, keyword: &str) -> bool {
    let distance = edit_distance(&word.to_ascii_lowercase(), &keyword.to_ascii_lowercase());
    distance > 0 && distance <= limit(keyword)
}

/// The most edits a misspelling of `keyword` may have.
fn limit(keyword: &str) -> usize {
    if keyword.len() <= 4 { 1 } else { 2 }
}

/// [`suggest`] among a socket rule's statements, and the actions' other names (`deny`).
pub fn suggest_statement(word: &str) -> Option<&'static str> {
    let lower = word.to_ascii_lowercase();
    ACTION_SYNONYMS
        .iter()
        .find(|(synonym, _)| *synonym == lower)
        .map(|(_, action)| *action)
        .or_else(|| suggest(word, SOCKET_STATEMENTS))
}

/// Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
/// neighbouring characters, one edit each. Keywords are short, so the quadratic table is cheap.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::language::vocabulary::{
        ACTION_PARAMETERS, APP_DECLARATIONS, REQUIRES_KEYS, RULE_KINDS, SEVERITY_NAMES,
    };

    #[test]
    fn misspellings_find_their_keyword() {
        assert_eq!(suggest_statement("conect"), Some("connect"));
        assert_eq!(suggest_statement("allwo"), Some("allow"));
        assert_eq!(suggest_statement("deny"), Some("protect"));
        assert_eq!(suggest_statement("Protcet"), Some("protect"));
        assert_eq!(suggest("Hihg", SEVERITY_NAMES), Some("High"));
        assert_eq!(suggest("hihg", SEVERITY_NAMES), Some("High"));
        assert_eq!(suggest("verison", REQUIRES_KEYS), Some("version"));
        assert_eq!(suggest("requries", APP_DECLARATIONS), Some("requires"));
        assert_eq!(suggest("soket", RULE_KINDS), Some("socket"));
        assert_eq!(suggest("mesage", ACTION_PARAMETERS), Some("message"));
    }

    #[test]
    fn far_words_and_keywords_themselves_get_no_guess() {
        assert_eq!(suggest_statement("firewall"), None);
        assert_eq!(suggest_statement("connect"), None);
        assert_eq!(suggest("Critical", SEVERITY_NAMES), None);
        assert_eq!(suggest("xyz", RULE_KINDS), None);
        // Two letters from `sql` and from nothing else, but one edit is the limit for short words.
        assert_eq!(suggest("sqlite", RULE_KINDS), None);
    }

    #[test]
    fn edit_distance_counts_a_swap_as_one() {
        assert_eq!(edit_distance("hihg", "high"), 1);
        assert_eq!(edit_distance("conect", "connect"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("abc", "abc"), 0);
    }
}
