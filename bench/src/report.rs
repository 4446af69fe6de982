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
                Some(native) => (format!("{native:.1}"), format!("{:.2}", row.ours / native)),
                None => (String::new(), String::new()),
            };
            println!(
                "| {:<42} | {:>12.1} | {:>12} | {:>7} | {:<22} |",
                row.name, row.ours, native, ratio, row.target
            );
        }
    }
}
