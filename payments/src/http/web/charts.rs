//! Server-rendered SVG charts for the dashboard: horizontal bars and a line, no script, no
//! library. Every label is escaped here (the SVG goes into the page as it is), every chart is
//! an image with a `<title>` and a `<desc>` (`role="img"`), and every value is written as text
//! beside its bar or point, so a chart reads without colour; the table under it says the same.

use std::fmt::Write as _;

/// One bar: its label, its value (bars are scaled to the largest) and the value as shown.
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub value: i64,
    pub shown: String,
}

/// One point of a line: its label on the x axis, its value and the value as shown.
#[derive(Debug, Clone)]
pub struct Point {
    pub label: String,
    pub value: i64,
    pub shown: String,
}

/// Text for an SVG element or attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const WIDTH: i64 = 720;
/// Characters of a bar's label drawn beside it (the rest is in its `<title>` and the table).
const LABEL_CHARS: usize = 26;

/// `label` cut to [`LABEL_CHARS`] with an ellipsis, so it stays in the label column.
fn short(label: &str) -> String {
    if label.chars().count() <= LABEL_CHARS {
        label.to_owned()
    } else {
        let mut cut: String = label.chars().take(LABEL_CHARS - 1).collect();
        cut.push('…');
        cut
    }
}
const LABEL_WIDTH: i64 = 220;
const VALUE_WIDTH: i64 = 150;
const ROW: i64 = 26;

/// `part` of `whole` pixels, `value` of `max` (0 when max is not positive).
fn scale(value: i64, max: i64, whole: i64) -> i64 {
    if max <= 0 || value <= 0 {
        return 0;
    }
    let scaled = i128::from(value) * i128::from(whole) / i128::from(max);
    i64::try_from(scaled).unwrap_or(whole).min(whole)
}

fn open(out: &mut String, id: &str, title: &str, desc: &str, height: i64) {
    let _ = write!(
        out,
        r#"<svg class="chart" id="{id}" role="img" aria-labelledby="{id}-title {id}-desc" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" xmlns="http://www.w3.org/2000/svg"><title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>"#,
        id = escape(id),
        title = escape(title),
        desc = escape(desc),
    );
}

/// A horizontal bar chart, one row per bar in the given order. `empty` is written when there
/// is nothing to draw.
pub fn bars(id: &str, title: &str, desc: &str, bars: &[Bar], empty: &str) -> String {
    let height = ROW * i64::try_from(bars.len().max(1)).unwrap_or(1) + 8;
    let mut out = String::new();
    open(&mut out, id, title, desc, height);
    if bars.is_empty() {
        let _ = write!(
            out,
            r#"<text x="8" y="20" class="chart-empty">{}</text>"#,
            escape(empty)
        );
    }
    let max = bars.iter().map(|bar| bar.value).max().unwrap_or(0);
    let room = WIDTH - LABEL_WIDTH - VALUE_WIDTH;
    for (row, bar) in (0_i64..).zip(bars) {
        let y = 4 + row * ROW;
        let length = scale(bar.value, max, room).max(i64::from(bar.value > 0));
        let _ = write!(
            out,
            r#"<g class="bar"><text x="{lx}" y="{ty}" text-anchor="end" class="chart-label">{shown_label}</text><rect x="{LABEL_WIDTH}" y="{ry}" width="{length}" height="18" class="chart-bar"><title>{label}: {shown}</title></rect><text x="{vx}" y="{ty}" class="chart-value">{shown}</text></g>"#,
            lx = LABEL_WIDTH - 8,
            ty = y + 14,
            ry = y + 1,
            vx = LABEL_WIDTH + length + 6,
            label = escape(&bar.label),
            shown_label = escape(&short(&bar.label)),
            shown = escape(&bar.shown),
        );
    }
    out.push_str("</svg>");
    out
}

/// A line over the points in order, from zero to the largest value (or `max` when given, such
/// as 1000 for a share per thousand), with the first, last and largest points labelled.
pub fn line(
    id: &str,
    title: &str,
    desc: &str,
    points: &[Point],
    max: Option<i64>,
    empty: &str,
) -> String {
    const HEIGHT: i64 = 240;
    const LEFT: i64 = 16;
    const TOP: i64 = 24;
    const BOTTOM: i64 = 40;
    let mut out = String::new();
    open(&mut out, id, title, desc, HEIGHT);
    if points.is_empty() {
        let _ = write!(
            out,
            r#"<text x="8" y="20" class="chart-empty">{}</text></svg>"#,
            escape(empty)
        );
        return out;
    }
    let max = max.unwrap_or_else(|| points.iter().map(|p| p.value).max().unwrap_or(0));
    let plot_height = HEIGHT - TOP - BOTTOM;
    let plot_width = WIDTH - 2 * LEFT - 60;
    let count = i64::try_from(points.len()).unwrap_or(1);
    let x_of = |index: i64| {
        if count <= 1 {
            LEFT + plot_width / 2
        } else {
            LEFT + index * plot_width / (count - 1)
        }
    };
    let y_of = |value: i64| TOP + plot_height - scale(value, max, plot_height);
    let _ = write!(
        out,
        r#"<line x1="{LEFT}" y1="{base}" x2="{right}" y2="{base}" class="chart-axis"/>"#,
        base = TOP + plot_height,
        right = LEFT + plot_width,
    );
    let path: Vec<String> = (0_i64..)
        .zip(points)
        .map(|(index, point)| format!("{},{}", x_of(index), y_of(point.value)))
        .collect();
    let _ = write!(
        out,
        r#"<polyline points="{}" class="chart-line" fill="none"/>"#,
        path.join(" ")
    );
    let top_index = points
        .iter()
        .enumerate()
        .max_by_key(|(_, point)| point.value)
        .map_or(0, |(index, _)| index);
    for (index, point) in points.iter().enumerate() {
        let at = i64::try_from(index).unwrap_or(0);
        let (x, y) = (x_of(at), y_of(point.value));
        let _ = write!(
            out,
            r#"<circle cx="{x}" cy="{y}" r="3" class="chart-point"><title>{label}: {shown}</title></circle>"#,
            label = escape(&point.label),
            shown = escape(&point.shown),
        );
        if index == 0 || index + 1 == points.len() || index == top_index {
            let anchor = if index == 0 && points.len() > 1 {
                "start"
            } else if index + 1 == points.len() && points.len() > 1 {
                "end"
            } else {
                "middle"
            };
            let _ = write!(
                out,
                r#"<text x="{x}" y="{vy}" text-anchor="{anchor}" class="chart-value">{shown}</text><text x="{x}" y="{ly}" text-anchor="{anchor}" class="chart-label">{label}</text>"#,
                vy = (y - 8).max(12),
                ly = HEIGHT - 12,
                shown = escape(&point.shown),
                label = escape(&point.label),
            );
        }
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(label: &str, value: i64) -> Bar {
        Bar {
            label: label.to_owned(),
            value,
            shown: value.to_string(),
        }
    }

    #[test]
    fn bars_are_an_image_with_escaped_labels_and_values_as_text() {
        let svg = bars(
            "c1",
            "Revenue <by> office",
            "d",
            &[bar("0320 & co", 200), bar("<script>", 100)],
            "none",
        );
        assert!(svg.starts_with(r#"<svg class="chart" id="c1" role="img""#));
        assert!(svg.contains("<title id=\"c1-title\">Revenue &lt;by&gt; office</title>"));
        assert!(svg.contains("0320 &amp; co") && svg.contains("&lt;script&gt;"));
        assert!(!svg.contains("<script>"));
        // Scaled to the largest: the second bar is half the first.
        assert!(
            svg.contains(r#"width="350""#) && svg.contains(r#"width="175""#),
            "{svg}"
        );
        assert!(svg.contains(">200</text>") && svg.contains(">100</text>"));
    }

    #[test]
    fn long_labels_are_cut_in_the_chart_and_whole_in_the_title() {
        let long = "OWSO district 0320 (Kampong Cham province)";
        let svg = bars("c", "t", "d", &[bar(long, 1)], "");
        assert!(svg.contains(">OWSO district 0320 (Kampo…</text>"), "{svg}");
        assert!(svg.contains(&format!("<title>{long}: 1</title>")));
    }

    #[test]
    fn empty_charts_say_so() {
        assert!(bars("c", "t", "d", &[], "No payments").contains("No payments"));
        assert!(line("c", "t", "d", &[], None, "No days").contains("No days"));
    }

    #[test]
    fn a_line_labels_its_ends_and_its_top() {
        let points: Vec<Point> = [1, 5, 2]
            .iter()
            .enumerate()
            .map(|(i, v)| Point {
                label: format!("day {i}"),
                value: *v,
                shown: format!("{v} x"),
            })
            .collect();
        let svg = line("l", "t", "d", &points, None, "");
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(
            svg.contains(">5 x</text>")
                && svg.contains(">day 0</text>")
                && svg.contains(">day 2</text>")
        );
        assert!(svg.contains("<polyline"));
    }
}
