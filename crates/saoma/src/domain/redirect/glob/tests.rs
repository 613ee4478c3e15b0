use rand::{rngs::StdRng, Rng, SeedableRng};

use super::*;

/// The backtracking matcher this module replaced, kept as the definition of the semantics.
fn reference(p: &[char], t: &[char]) -> bool {
    let Some(&first) = p.first() else {
        return t.is_empty();
    };
    match first {
        '*' if p.get(1) == Some(&'*') => (0..=t.len()).any(|i| reference(&p[2..], &t[i..])),
        '*' => {
            let limit = t.iter().position(|&c| is_separator(c)).unwrap_or(t.len());
            (0..=limit).any(|i| reference(&p[1..], &t[i..]))
        }
        '?' => t.first().is_some_and(|&c| !is_separator(c)) && reference(&p[1..], &t[1..]),
        '[' => match (class_end(p), t.first()) {
            (Some(end), Some(&c)) => {
                class_contains(&p[1..end], c) && reference(&p[end + 1..], &t[1..])
            }
            (None, Some(&c)) => c == '[' && reference(&p[1..], &t[1..]),
            (_, None) => false,
        },
        '{' => match alternatives(p) {
            Some((options, rest)) => options.iter().any(|option| {
                let mut combined = option.to_vec();
                combined.extend_from_slice(rest);
                reference(&combined, t)
            }),
            None => t.first() == Some(&'{') && reference(&p[1..], &t[1..]),
        },
        '\\' if p.len() > 1 => t.first() == Some(&p[1]) && reference(&p[2..], &t[1..]),
        literal => t.first() == Some(&literal) && reference(&p[1..], &t[1..]),
    }
}

fn random_string(rng: &mut StdRng, alphabet: &[char], max_len: usize) -> String {
    let len = rng.gen_range(0..=max_len);
    (0..len)
        .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
        .collect()
}

#[test]
fn agrees_with_the_backtracking_matcher() {
    let pattern_chars: Vec<char> = "ab.*?[]{},!^-\\/".chars().collect();
    let text_chars: Vec<char> = "ab./[]{},*?\\-!".chars().collect();
    let mut rng = StdRng::seed_from_u64(7);
    let mut matched = 0;
    for _ in 0..50_000 {
        let pattern = random_string(&mut rng, &pattern_chars, 9);
        let text = random_string(&mut rng, &text_chars, 7);
        let expected = reference(
            &pattern.chars().collect::<Vec<_>>(),
            &text.chars().collect::<Vec<_>>(),
        );
        assert_eq!(
            glob_match(&pattern, &text),
            expected,
            "pattern {pattern:?}, text {text:?}"
        );
        matched += usize::from(expected);
    }
    // Both verdicts are exercised, not only refusals.
    assert!(matched > 1_000, "only {matched} matches");
}

#[test]
fn a_long_target_is_decided_in_one_step_per_pattern_and_text_position() {
    // Three `**` with literal text between them: the backtracking matcher tried every way of
    // splitting the text among them (cubic; 625 characters took seconds).
    let pattern = "https://app.example.org/**/auth/**/cb/**/end";
    let mut text = String::from("https://app.example.org/");
    while text.len() < 16 * 1024 {
        text.push_str("auth/cb/");
    }
    text.push_str("nope");
    let text: Vec<char> = text.chars().collect();

    let expanded = expand(pattern);
    assert_eq!(expanded.len(), 1);
    let mut steps = 0;
    assert!(!matches(&expanded[0], &text, &mut steps));
    let pairs = (pattern.chars().count() + 1) * (text.len() + 1);
    assert!(steps <= pairs, "{steps} steps for {pairs} pairs");
    assert!(!glob_match(pattern, &text.iter().collect::<String>()));
}

#[test]
fn alternatives_multiply_only_with_the_pattern() {
    assert_eq!(expand("https://{a,b,c}.example.org/{x,y}").len(), 6);
    assert!(glob_match(
        "https://{a,b,c}.example.org/{x,y}",
        "https://c.example.org/y"
    ));
    assert!(!glob_match(
        "https://{a,b,c}.example.org/{x,y}",
        "https://d.example.org/y"
    ));
}
