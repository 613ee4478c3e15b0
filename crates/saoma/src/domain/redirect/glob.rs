//! Glob matching as GoTrue's allow-list uses it (gobwas/glob with `.` and `/` as separators):
//! `*` matches within one label or path segment, `**` anything, `?` one non-separator
//! character, `[abc]` / `[!abc]` / `[a-z]` a class, `{a,b}` alternatives, `\` escapes.
//!
//! The target is attacker-supplied and checked before any rate limit, so the time taken must
//! not depend on how `*`s can be fitted: `{a,b}` alternatives are expanded up front into plain
//! token lists, and each is matched by dynamic programming over (token, text position), at
//! most one step per pair.

/// `true` when `text` matches `pattern`.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    expand(pattern)
        .iter()
        .any(|tokens| matches(tokens, &text, &mut 0))
}

/// One unit of a pattern without alternatives.
#[derive(Clone, Debug, PartialEq)]
enum Token {
    /// `**`: any run of characters, separators included.
    AnyRun,
    /// `*`: any run of non-separator characters.
    AnyInSegment,
    /// `?`: one non-separator character.
    OneInSegment,
    /// `[...]`: one character of the class (the text between the brackets).
    Class(Vec<char>),
    Literal(char),
}

impl Token {
    /// Whether a single-character token accepts `c`; runs are handled by the matcher.
    fn accepts(&self, c: char) -> bool {
        match self {
            Token::AnyRun => true,
            Token::AnyInSegment | Token::OneInSegment => !is_separator(c),
            Token::Class(class) => class_contains(class, c),
            Token::Literal(literal) => *literal == c,
        }
    }
}

fn is_separator(c: char) -> bool {
    c == '.' || c == '/'
}

/// Every token list the pattern stands for. An alternative's text is read again together
/// with what follows the `}` (so `{a,[}b]` gives `a}b]` and the class `[b]`), as GoTrue's
/// allow-list patterns have always been read here. Each expansion is shorter than the text
/// it replaces, so this ends; the count grows only with the pattern, which the operator
/// writes, never with the target.
fn expand(pattern: &str) -> Vec<Vec<Token>> {
    let pattern: Vec<char> = pattern.chars().collect();
    let mut expanded = Vec::new();
    expand_into(Vec::new(), &pattern, &mut expanded);
    expanded
}

fn expand_into(mut tokens: Vec<Token>, mut p: &[char], expanded: &mut Vec<Vec<Token>>) {
    while let Some(&first) = p.first() {
        let (token, consumed) = match first {
            '*' if p.get(1) == Some(&'*') => (Token::AnyRun, 2),
            '*' => (Token::AnyInSegment, 1),
            '?' => (Token::OneInSegment, 1),
            '[' => match class_end(p) {
                Some(end) => (Token::Class(p[1..end].to_vec()), end + 1),
                None => (Token::Literal('['), 1),
            },
            '{' => match alternatives(p) {
                Some((options, rest)) => {
                    for option in options {
                        let mut combined = option.to_vec();
                        combined.extend_from_slice(rest);
                        expand_into(tokens.clone(), &combined, expanded);
                    }
                    return;
                }
                None => (Token::Literal('{'), 1),
            },
            '\\' if p.len() > 1 => (Token::Literal(p[1]), 2),
            literal => (Token::Literal(literal), 1),
        };
        tokens.push(token);
        p = &p[consumed..];
    }
    expanded.push(tokens);
}

/// Index of the `]` closing the class opened at `p[0]`; a `]` right after `[` (or `[!`) is
/// a member, not the end.
fn class_end(p: &[char]) -> Option<usize> {
    p.iter().skip(2).position(|&c| c == ']').map(|i| i + 2)
}

fn class_contains(class: &[char], c: char) -> bool {
    let (negate, class) = match class.first() {
        Some('!') | Some('^') => (true, &class[1..]),
        _ => (false, class),
    };
    let mut found = false;
    let mut i = 0;
    while i < class.len() {
        if i + 2 < class.len() && class[i + 1] == '-' {
            found |= class[i] <= c && c <= class[i + 2];
            i += 3;
        } else {
            found |= class[i] == c;
            i += 1;
        }
    }
    found != negate
}

/// Splits `{a,b,c}rest` into the options and the rest (no nesting: the first `}` closes).
fn alternatives(p: &[char]) -> Option<(Vec<&[char]>, &[char])> {
    let close = p.iter().position(|&c| c == '}')?;
    let options = p[1..close].split(|&c| c == ',').collect();
    Some((options, &p[close + 1..]))
}

/// Whether `tokens` match all of `text`, deciding each (token, position) pair once: row `k`
/// holds, for every position `i`, whether `tokens[k..]` match `text[i..]`, and is computed
/// from row `k + 1` alone. `steps` counts the pairs decided, so tests can see the bound.
fn matches(tokens: &[Token], text: &[char], steps: &mut usize) -> bool {
    let n = text.len();
    // No tokens left: only the end of the text matches.
    let mut next: Vec<bool> = (0..=n).map(|i| i == n).collect();
    let mut row = vec![false; n + 1];
    for token in tokens.iter().rev() {
        for i in (0..=n).rev() {
            *steps += 1;
            let here = text.get(i).copied();
            row[i] = match token {
                // A run either ends here or takes one more character and stays.
                Token::AnyRun | Token::AnyInSegment => {
                    next[i] || (here.is_some_and(|c| token.accepts(c)) && row[i + 1])
                }
                _ => here.is_some_and(|c| token.accepts(c)) && next[i + 1],
            };
        }
        std::mem::swap(&mut next, &mut row);
    }
    next[0]
}

#[cfg(test)]
mod tests;
