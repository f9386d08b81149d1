//! Page geometry and the display list: what to draw where, in points from the bottom left of
//! a page, before anything is encoded as PDF. Text is wrapped here.

use crate::font::{Font, Style};

/// One thing drawn on a page.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    /// A line of text with its baseline starting at (`x`, `y`), in `gray` (0 is black).
    Text {
        style: Style,
        size: f32,
        x: f32,
        y: f32,
        gray: f32,
        text: String,
    },
    /// A straight line of `width` points.
    Line {
        from: (f32, f32),
        to: (f32, f32),
        width: f32,
    },
    /// A filled rectangle (`x`, `y` is its bottom left corner).
    Fill {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        gray: f32,
    },
}

/// What one page shows.
#[derive(Debug, Default)]
pub(crate) struct Page {
    pub(crate) ops: Vec<Op>,
}

impl Page {
    pub(crate) fn text(&mut self, style: Style, size: f32, x: f32, y: f32, text: &str) {
        self.gray_text(style, size, (x, y), 0.0, text);
    }

    pub(crate) fn gray_text(
        &mut self,
        style: Style,
        size: f32,
        (x, y): (f32, f32),
        gray: f32,
        text: &str,
    ) {
        if !text.is_empty() {
            self.ops.push(Op::Text {
                style,
                size,
                x,
                y,
                gray,
                text: text.to_owned(),
            });
        }
    }

    pub(crate) fn line(&mut self, from: (f32, f32), to: (f32, f32), width: f32) {
        self.ops.push(Op::Line { from, to, width });
    }

    pub(crate) fn fill(&mut self, (x, y): (f32, f32), (w, h): (f32, f32), gray: f32) {
        self.ops.push(Op::Fill { x, y, w, h, gray });
    }
}

/// Breaks `text` into lines no wider than `width` at `size` points: at spaces, at line breaks
/// in the text, and inside a word only when the word alone is too wide.
pub(crate) fn wrap(font: &Font, size: f32, text: &str, width: f32) -> Vec<String> {
    let space = font.width(" ", size);
    let mut lines = Vec::new();
    for paragraph in text.lines() {
        let mut line = String::new();
        let mut line_width = 0.0;
        for word in paragraph.split_whitespace() {
            let word_width = font.width(word, size);
            if !line.is_empty() && line_width + space + word_width <= width {
                line.push(' ');
                line.push_str(word);
                line_width += space + word_width;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            if word_width <= width {
                line.push_str(word);
                line_width = word_width;
            } else {
                line_width = 0.0;
                for c in word.chars() {
                    let w = font.width(c.encode_utf8(&mut [0; 4]), size);
                    if !line.is_empty() && line_width + w > width {
                        lines.push(std::mem::take(&mut line));
                        line_width = 0.0;
                    }
                    line.push(c);
                    line_width += w;
                }
            }
        }
        if !line.is_empty() {
            lines.push(line);
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn font() -> Font {
        Font::load(Style::Regular).unwrap()
    }

    #[test]
    fn short_text_stays_on_one_line() {
        assert_eq!(wrap(&font(), 10.0, "Домофон 12", 200.0), vec!["Домофон 12"]);
    }

    #[test]
    fn long_text_breaks_at_spaces_within_the_width() {
        let f = font();
        let text = "Москва, ул. Тверская, 7, офис 12, вход со двора, звонить заранее";
        let lines = wrap(&f, 10.0, text, 100.0);
        assert!(lines.len() > 2, "{lines:?}");
        assert!(lines.iter().all(|l| f.width(l, 10.0) <= 100.0), "{lines:?}");
        assert_eq!(lines.join(" "), text);
    }

    #[test]
    fn a_word_wider_than_the_column_is_cut() {
        let f = font();
        let word = "Ж".repeat(60);
        let lines = wrap(&f, 10.0, &word, 50.0);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| f.width(l, 10.0) <= 50.0));
        assert_eq!(lines.concat(), word);
    }

    #[test]
    fn line_breaks_in_the_text_are_kept_and_blank_lines_dropped() {
        assert_eq!(
            wrap(&font(), 10.0, "первая\r\n\nвторая", 500.0),
            vec!["первая", "вторая"]
        );
    }
}
