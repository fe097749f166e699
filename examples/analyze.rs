//! Data analysis in a code-interpreter sandbox: upload a CSV, compute with pandas, plot with
//! matplotlib, save the PNG the result carries, and print the chart's typed data.
//!
//! ```text
//! cargo run -p e2b-examples --example analyze
//! ```
//!
//! Uses the E2B cloud when `E2B_API_KEY` is set, else an e2b-local server in this process
//! (with the kernel environment of `make kernel-env`).

use std::time::Duration;

use e2b::code_interpreter::{Chart, CodeInterpreter, RunCodeOptions};

/// A small data set: monthly revenue per region.
fn sales_csv() -> String {
    let mut csv = String::from("month,region,revenue\n");
    for (i, month) in ["2026-01", "2026-02", "2026-03", "2026-04"]
        .iter()
        .enumerate()
    {
        for (j, region) in ["north", "south", "east", "west"].iter().enumerate() {
            let revenue = 1000 + 150 * i + 230 * j + (i * j * 37) % 90;
            csv.push_str(&format!("{month},{region},{revenue}\n"));
        }
    }
    csv
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let backend = e2b_examples::Backend::with_kernels().await?;
    let interpreter = CodeInterpreter::builder()
        .timeout(Duration::from_secs(180))
        .metadata([("example", "analyze")])
        .create(&backend.client)
        .await?;
    println!(
        "created code-interpreter sandbox {}",
        interpreter.sandbox().id()
    );

    // The sandbox is a sandbox: upload the data with the filesystem API.
    interpreter
        .sandbox()
        .files()
        .write("/home/user/sales.csv", sales_csv())
        .await?;

    // Compute with pandas; state persists for the next call.
    let summary = interpreter
        .run_code_with(
            "import pandas as pd\n\
             df = pd.read_csv('/home/user/sales.csv')\n\
             by_region = df.groupby('region')['revenue'].sum().sort_values(ascending=False)\n\
             print(f'{len(df)} rows, total revenue {df.revenue.sum()}')\n\
             by_region.reset_index()",
            RunCodeOptions::new().on_stdout(|m| print!("sandbox: {}", m.line)),
        )
        .await?;
    if let Some(error) = &summary.error {
        anyhow::bail!("the analysis failed: {error}\n{}", error.traceback);
    }
    if let Some(data) = summary.results.iter().find_map(|r| r.data.as_ref()) {
        println!("revenue by region (as data): {data}");
    }

    // Plot with matplotlib: the figure comes back as a PNG and as typed chart data.
    let plot = interpreter
        .run_code(
            "import matplotlib.pyplot as plt\n\
             plt.figure(figsize=(6, 4))\n\
             plt.bar(by_region.index, by_region.values, label='revenue')\n\
             plt.title('Revenue by region')\n\
             plt.xlabel('region')\n\
             plt.ylabel('revenue [EUR]')\n\
             plt.show()",
        )
        .await?;
    if let Some(error) = &plot.error {
        anyhow::bail!("plotting failed: {error}\n{}", error.traceback);
    }
    for result in &plot.results {
        if let Some(png) = result.png_bytes()? {
            let path = std::env::temp_dir().join("e2b-analyze-revenue.png");
            std::fs::write(&path, &png)?;
            println!(
                "saved the chart ({} bytes) to {}",
                png.len(),
                path.display()
            );
        }
        match &result.chart {
            Some(Chart::Bar(chart)) => {
                println!(
                    "bar chart {:?} (y axis {:?}, unit {:?}):",
                    chart.title.as_deref().unwrap_or(""),
                    chart.y_label.as_deref().unwrap_or(""),
                    chart.y_unit.as_deref().unwrap_or("")
                );
                for bar in &chart.elements {
                    println!(
                        "  {:<6} {:>8}",
                        bar.label,
                        bar.value.as_f64().map_or("?".into(), |v| v.to_string())
                    );
                }
            }
            Some(other) => println!("a {:?} chart", other.chart_type()),
            None => {}
        }
    }

    interpreter.sandbox().kill().await?;
    println!("killed sandbox {}", interpreter.sandbox().id());
    backend.shutdown().await;
    Ok(())
}
