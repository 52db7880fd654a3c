//! The PNG of docs/benchmarks.md: ours / raw client and ours / py-key-value per operation,
//! one line per store, from the JSON report that `--json` writes.

use plotters::prelude::*;

use crate::{OPS, Res};

/// (color index, store name, points).
type Series = (usize, String, Vec<(f64, f64)>);

const SHORT: &[&str] = &[
    "put", "get", "miss", "put_many", "get_many", "delete", "put_ttl", "c1", "c8", "c64",
];

const FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
];

/// Median of `side` / median of `base` for one store and operation.
fn ratio(store: &serde_json::Value, side: &str, base: &str, op: &str) -> Option<f64> {
    let m = |who: &str| store.get(who)?.get(op)?.get("median")?.as_f64();
    let (a, b) = (m(side)?, m(base)?);
    (b > 0.0).then_some(a / b)
}

/// Writes the plot; an error when no usable font is on the machine.
pub(crate) fn write(report: &serde_json::Map<String, serde_json::Value>, path: &str) -> Res<()> {
    let font = FONTS
        .iter()
        .find_map(|p| std::fs::read(p).ok())
        .ok_or("no TrueType font found for the plot (install fonts-dejavu-core)")?;
    plotters::style::register_font("sans-serif", FontStyle::Normal, Vec::leak(font))
        .map_err(|_| "invalid font")?;

    let root = BitMapBackend::new(path, (1400, 620)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((1, 2));
    let specs = [
        ("ours / raw Rust client (median ratio)", "raw", false),
        (
            "ours / py-key-value-aio 0.4.6 (median ratio, log)",
            "python",
            true,
        ),
    ];
    for (area, (title, base, log)) in panels.iter().zip(specs) {
        let series: Vec<Series> = report
            .iter()
            .enumerate()
            .map(|(idx, (name, s))| {
                let pts = OPS
                    .iter()
                    .enumerate()
                    .filter_map(|(i, op)| Some((i as f64, ratio(s, "ours", base, op)?)))
                    .collect::<Vec<_>>();
                (idx, name.clone(), pts)
            })
            .filter(|(_, _, p)| !p.is_empty())
            .collect();
        let max = series
            .iter()
            .flat_map(|(_, _, p)| p.iter().map(|(_, y)| *y))
            .fold(1.2f64, f64::max);
        let colors = [
            RED,
            BLUE,
            GREEN,
            MAGENTA,
            CYAN,
            BLACK,
            RGBColor(255, 140, 0),
            RGBColor(128, 0, 128),
            RGBColor(128, 128, 0),
        ];
        let x_fmt = |x: &f64| {
            let i = x.round() as usize;
            if (x - x.round()).abs() < 1e-6 {
                SHORT.get(i).copied().unwrap_or("").to_string()
            } else {
                String::new()
            }
        };
        if log {
            let min = series
                .iter()
                .flat_map(|(_, _, p)| p.iter().map(|(_, y)| *y))
                .fold(1.0f64, f64::min);
            let mut chart = ChartBuilder::on(area)
                .caption(title, ("sans-serif", 20))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(50)
                .build_cartesian_2d(-0.3f64..9.3, ((min * 0.7)..(max * 1.4)).log_scale())?;
            chart
                .configure_mesh()
                .x_labels(10)
                .x_label_formatter(&x_fmt)
                .y_label_formatter(&|y| format!("{y:.1}×"))
                .draw()?;
            chart.draw_series(LineSeries::new([(-0.3, 1.0), (9.3, 1.0)], BLACK.mix(0.4)))?;
            for (i, name, pts) in &series {
                let c = colors[*i % colors.len()];
                chart
                    .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))?
                    .label(name.as_str())
                    .legend(move |(x, y)| {
                        PathElement::new([(x, y), (x + 16, y)], c.stroke_width(2))
                    });
                chart.draw_series(pts.iter().map(|p| Circle::new(*p, 3, c.filled())))?;
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()?;
        } else {
            let mut chart = ChartBuilder::on(area)
                .caption(title, ("sans-serif", 20))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(50)
                .build_cartesian_2d(-0.3f64..9.3, 0f64..(max * 1.1))?;
            chart
                .configure_mesh()
                .x_labels(10)
                .x_label_formatter(&x_fmt)
                .y_label_formatter(&|y| format!("{y:.1}×"))
                .draw()?;
            chart.draw_series(LineSeries::new([(-0.3, 1.0), (9.3, 1.0)], BLACK.mix(0.4)))?;
            for (i, name, pts) in &series {
                let c = colors[*i % colors.len()];
                chart
                    .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))?
                    .label(name.as_str())
                    .legend(move |(x, y)| {
                        PathElement::new([(x, y), (x + 16, y)], c.stroke_width(2))
                    });
                chart.draw_series(pts.iter().map(|p| Circle::new(*p, 3, c.filled())))?;
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()?;
        }
    }
    root.present()?;
    Ok(())
}
