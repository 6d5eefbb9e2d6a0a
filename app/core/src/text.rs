//! Text written by someone else, checked in one place: which characters can
//! hide, reorder or take control of what is displayed.
//!
//! Message bodies, contact names and anything a peer or relay chose reach a
//! screen or a terminal. Control characters (C0, DEL, C1) drive terminals
//! (erase lines, move the cursor, set the window title, write the clipboard
//! with OSC 52); format characters (Unicode category Cf: the bidi overrides
//! and isolates, zero-width spaces and joiners, soft hyphens, tag characters)
//! reorder or hide text so that what is shown is not what was sent; the line
//! and paragraph separators U+2028/U+2029 break lines in some renderers.
//! Display names refuse all of these ([`crate::client::validate_name`]); the
//! CLI escapes them in human-readable output.

use unicode_general_category::{GeneralCategory, get_general_category};

/// True for a character that may not be shown raw: a control character
/// (Cc: C0, DEL, C1), a format character (Cf) or a line or paragraph
/// separator (Zl, Zp). Line feeds are controls too: callers that keep line
/// structure handle `'\n'` themselves.
pub fn is_control_or_format(c: char) -> bool {
    matches!(
        get_general_category(c),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_controls_bidi_and_invisible_characters_only() {
        for c in [
            '\0',
            '\x07',
            '\x1b',
            '\r',
            '\n',
            '\t',
            '\x7f',
            '\u{85}',
            '\u{9b}',
            '\u{9d}',
            '\u{200b}',
            '\u{200d}',
            '\u{200e}',
            '\u{202e}',
            '\u{2066}',
            '\u{2069}',
            '\u{ad}',
            '\u{feff}',
            '\u{e0041}',
            '\u{2028}',
            '\u{2029}',
        ] {
            assert!(is_control_or_format(c), "{:?}", c);
        }
        for c in [
            'a', 'é', 'Б', '世', ' ', '\u{a0}', '🙂', '|', '\\', '\u{301}',
        ] {
            assert!(!is_control_or_format(c), "{:?}", c);
        }
    }
}
