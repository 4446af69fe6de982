//! The printed table.

pub struct Row {
    name: String,
    ours: f64,
    native: Option<f64>,
    target: String,
}

impl Row {
    pub fn compared(name: &str, ours: f64, native: f64, target: &str) -> Self {
        Self {
            name: name.to_owned(),
            ours,
            native: Some(native),
            target: target.to_owned(),
        }
    }

    pub fn alone(name: &str, ours: f64, target: &str) -> Self {
        Self {
            name: name.to_owned(),
            ours,
            native: None,
            target: target.to_owned(),
        }
    }
}

pub struct Table {
    mode: String,
    rows: Vec<Row>,
}

impl Table {
    pub fn new(mode: &str) -> Self {
        Self {
            mode: mode.to_owned(),
            rows: Vec::new(),
        }
    }

    pub fn push(&mut self, row: Row) {
        self.rows.push(row);
    }

    pub fn print(&self) {
        println!("\nvathost benchmarks ({} run)\n", self.mode);
        println!(
            "| {:<42} | {:>12} | {:>12} | {:>7} | {:<22} |",
            "measure", "vathost", "native", "ratio", "target"
        );
        println!(
            "|{:-<44}|{:->14}|{:->14}|{:->9}|{:-<24}|",
            "", "", "", "", ""
        );
        for row in &self.rows {
            let (native, ratio) = match row.native {
                Some(native) => (digits(native), format!("{:.2}", row.ours / native)),
                None => (String::new(), String::new()),
            };
            println!(
                "| {:<42} | {:>12} | {:>12} | {:>7} | {:<22} |",
                row.name,
                digits(row.ours),
                native,
                ratio,
                row.target
            );
        }
    }
}

/// One decimal, or two below 1 (a warm launch of 0.34 ms is not 0.3).
fn digits(value: f64) -> String {
    if value.abs() < 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.1}")
    }
}
