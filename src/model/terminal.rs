//! Text made safe for a terminal: the one sanitizer every piece of terminal text goes through (the summary,
//! `orgscan fix`'s plan and its lines), because names, tags, messages and ids come from AWS accounts or from
//! a report file that anyone in a pipeline may edit (issue 27).
//!
//! What it neutralizes, each shown as a visible `\u{..}` escape so the operator sees that something odd was
//! there instead of having it act:
//! - the C0 controls (ESC starts ANSI CSI and OSC sequences: cursor moves, erase line, clear screen, window
//!   titles, hyperlinks; BEL and BS), DEL, and the C1 controls (U+0080 to U+009F: CSI U+009B and OSC U+009D
//!   are 8-bit forms of the same sequences) (ECMA-48, 5th edition, sections 5.2 and 8.3);
//! - the Unicode bidirectional formatting characters (U+061C, U+200E, U+200F, U+202A to U+202E, U+2066 to
//!   U+2069), which reorder what is displayed ("Trojan Source", CVE-2021-42574; Unicode Standard Annex 9,
//!   "Unicode Bidirectional Algorithm", section 2, Explicit Directional Formatting Characters);
//! - the invisible characters that hide or join text (U+200B to U+200D, U+2060 to U+2064, U+FEFF), and the
//!   line and paragraph separators U+2028 and U+2029, which some terminals break lines at.
//!
//! HTML and markdown are plain text on a terminal and pass as they are (the HTML report escapes them itself).

use std::borrow::Cow;

/// Whether `c` must not reach a terminal as it is.
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// `s` with every control, bidirectional and invisible formatting character replaced by its visible escape
/// (`\u{1b}`, `\u{202e}`, ...), line breaks included: one value never spans two lines. A string that needs
/// nothing is returned as it is.
pub fn safe(s: &str) -> Cow<'_, str> {
    if !s.chars().any(unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_char(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A block of terminal text made safe line by line: its own line breaks (`\n`) stay, everything [`safe`]
/// escapes is escaped in each line (a `\r` too, so no line is overwritten). The net under every text the
/// terminal gets; the values in it are made safe one by one as well, so that a value cannot add a line.
pub fn safe_lines(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c != '\n' && unsafe_char(c)) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.split('\n').map(safe).collect::<Vec<_>>().join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_bidi_and_invisible_characters_and_leaves_the_rest() {
        let hostile = "key\u{1b}[2J\u{1b}[1A\u{1b}]8;;http://x\u{7}link\u{9b}31m\u{202e}gnp.exe\u{2066}\u{200b}\u{7f}\r\nnext";
        let shown = safe(hostile);
        assert_eq!(
            shown,
            "key\\u{1b}[2J\\u{1b}[1A\\u{1b}]8;;http://x\\u{7}link\\u{9b}31m\\u{202e}gnp.exe\\u{2066}\\u{200b}\\u{7f}\\u{d}\\u{a}next"
        );
        assert!(shown.chars().all(|c| !unsafe_char(c)));
        for plain in ["<script>alert(1)</script>", "**bold** [x](http://e) `code` | a |", "ключ 鍵 🔑 café", ""] {
            assert!(matches!(safe(plain), Cow::Borrowed(p) if p == plain), "{plain}");
        }
        assert_eq!(safe_lines("a\u{1b}[31m\nb\u{202e}c\n"), "a\\u{1b}[31m\nb\\u{202e}c\n");
        assert_eq!(safe_lines("over\rwrite\n"), "over\\u{d}write\n");
    }
}
