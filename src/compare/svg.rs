//! The head-of-line picture: one panel per HTTP version, bytes received over time, one line
//! per stream. Plain SVG written by hand (a few elements; no plotting library), to open in a
//! browser.

use super::hol::{Arrivals, finish_ms, stalls};

const W: f64 = 320.0;
const H: f64 = 220.0;
const PAD: f64 = 40.0;
const COLOURS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The chart for `runs` (each a version), with stalls of at least `min_ms` shaded.
pub fn chart(runs: &[Arrivals], title: &str, min_ms: f64) -> String {
    let t_max = runs.iter().map(finish_ms).fold(1.0, f64::max);
    let b_max = runs
        .iter()
        .flat_map(|a| a.streams.iter().filter_map(|s| s.last().map(|l| l.1)))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let width = PAD + runs.len() as f64 * (W + PAD);
    let height = H + 2.5 * PAD;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"11\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{PAD}\" y=\"18\" font-size=\"13\">{}</text>\n",
        esc(title)
    );
    for (p, a) in runs.iter().enumerate() {
        let x0 = PAD + p as f64 * (W + PAD);
        let y0 = PAD;
        let x = |t: f64| x0 + t / t_max * W;
        let y = |b: f64| y0 + H - b / b_max * H;
        out.push_str(&format!(
            "<g><rect x=\"{x0}\" y=\"{y0}\" width=\"{W}\" height=\"{H}\" fill=\"none\" stroke=\"#999\"/>\n\
             <text x=\"{x0}\" y=\"{}\" font-size=\"12\">{} (done after {:.0} ms)</text>\n\
             <text x=\"{x0}\" y=\"{}\">0</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{:.0} ms</text>\n",
            y0 - 6.0,
            esc(a.version),
            finish_ms(a),
            y0 + H + 14.0,
            x0 + W,
            y0 + H + 14.0,
            t_max
        ));
        // Stalls: a band per stall, in the stream's colour.
        for st in stalls(a, min_ms) {
            out.push_str(&format!(
                "<rect x=\"{:.1}\" y=\"{y0}\" width=\"{:.1}\" height=\"{H}\" fill=\"{}\" opacity=\"0.08\"/>\n",
                x(st.from_ms),
                (x(st.to_ms) - x(st.from_ms)).max(0.5),
                COLOURS[st.stream % COLOURS.len()]
            ));
        }
        for (i, s) in a.streams.iter().enumerate() {
            let pts: Vec<String> = s
                .iter()
                .map(|&(t, b)| format!("{:.1},{:.1}", x(t), y(b as f64)))
                .collect();
            out.push_str(&format!(
                "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"{}\"/>\n",
                COLOURS[i % COLOURS.len()],
                pts.join(" ")
            ));
        }
        out.push_str("</g>\n");
    }
    out.push_str(&format!(
        "<text x=\"{PAD}\" y=\"{}\">bytes received per stream over time; shaded: a stream with no byte for ≥ {min_ms} ms</text>\n</svg>\n",
        H + 2.2 * PAD
    ));
    out
}
