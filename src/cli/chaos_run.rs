//! `tierlab chaos run FILE [--json]`: runs a scenario ([`crate::chaos::scenario`]) against the
//! running lab: its clients request the path through the load balancer (HTTPS, the lab's CA
//! trusted) for the scenario's duration while each fault is sent to the lab at its time; then
//! the report of what the clients saw.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::chaos::scenario::{self, Outcome, Report, Sample};
use crate::config::Config;
use crate::error::Error;

/// A request that takes longer counts as a timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// `tierlab chaos run FILE`.
pub async fn run(config: &Config, file: &Path, json: bool) -> Result<(), Error> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Error::Usage(format!("cannot read scenario {}: {e}", file.display())))?;
    let scenario = scenario::parse(&text, file).map_err(Error::Usage)?;
    let control = super::running::control_file(config)?;
    let status = super::running::status_from(config, &control).await?;
    let base = status
        .alb
        .as_ref()
        .and_then(|a| a.https_url.clone().or_else(|| a.http_url.clone()))
        .ok_or_else(|| Error::Usage(format!("lab `{}` runs no load balancer", status.lab)))?;
    let client = client(config)?;
    let url = format!("{base}{}", scenario.path);
    if !json {
        println!(
            "scenario {}: {} client(s) on {url} for {}, {} fault(s)",
            file.display(),
            scenario.clients,
            humantime::format_duration(scenario.duration),
            scenario.faults.len()
        );
    }
    let started = Instant::now();
    let samples = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..scenario.clients)
        .map(|_| {
            let (client, url, samples) = (client.clone(), url.clone(), samples.clone());
            let end = started + scenario.duration;
            tokio::spawn(async move {
                while Instant::now() < end {
                    let sample = request(&client, &url, started).await;
                    samples
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(sample);
                }
            })
        })
        .collect();
    for fault in &scenario.faults {
        tokio::time::sleep_until((started + fault.at).into()).await;
        let said = crate::control::chaos_request(&control, &fault.chaos).await;
        if !json {
            match said {
                Ok(message) => println!("  at {:>6.1}s: {message}", fault.at.as_secs_f64()),
                Err(e) => println!(
                    "  at {:>6.1}s: refused: {}",
                    fault.at.as_secs_f64(),
                    crate::error::chain(&e)
                ),
            }
        }
    }
    for client in clients {
        let _ = client.await;
    }
    let samples = samples.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let report = scenario::report(&scenario, &samples);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("a report serialises")
        );
    } else {
        print!("{}", render(&report));
    }
    Ok(())
}

/// One GET, timed.
async fn request(client: &reqwest::Client, url: &str, since: Instant) -> Sample {
    let sent = Instant::now();
    let outcome = match client.get(url).send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            // The whole body, as a browser would read it.
            match response.bytes().await {
                Ok(_) if status < 400 => Outcome::Ok,
                Ok(_) => Outcome::Status(status),
                Err(e) if e.is_timeout() => Outcome::Timeout,
                Err(_) => Outcome::ConnectionError,
            }
        }
        Err(e) if e.is_timeout() => Outcome::Timeout,
        Err(_) => Outcome::ConnectionError,
    };
    Sample {
        started: sent - since,
        took: sent.elapsed(),
        outcome,
    }
}

/// An HTTPS client that trusts the lab's CA (and nothing else) and follows no redirect.
fn client(config: &Config) -> Result<reqwest::Client, Error> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let state = crate::state::StateDir::resolve(config.lab.state_dir.as_deref());
    let ca = crate::alb::LocalCa::load_or_create(&state.ca_dir())?;
    let pem = std::fs::read(ca.cert_path()).map_err(|e| {
        Error::Usage(format!(
            "cannot read the lab's CA certificate {}: {e}",
            ca.cert_path().display()
        ))
    })?;
    let certificate = reqwest::Certificate::from_pem(&pem)
        .map_err(|e| Error::Usage(format!("the lab's CA certificate: {e}")))?;
    reqwest::Client::builder()
        .add_root_certificate(certificate)
        .tls_built_in_root_certs(false)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|e| Error::Usage(format!("cannot build an HTTPS client: {e}")))
}

/// The report as text: totals, then a table per fault.
fn render(report: &Report) -> String {
    let percent = |n: usize| {
        if report.requests == 0 {
            0.0
        } else {
            n as f64 * 100.0 / report.requests as f64
        }
    };
    let failed = report.requests - report.ok;
    let kinds: Vec<String> = report
        .failures
        .iter()
        .map(|(kind, n)| format!("{kind} ×{n}"))
        .collect();
    let mut out = format!(
        "requests {}, ok {} ({:.1}%), failed {}{}\nlatency p50 {:.1} ms, p99 {:.1} ms\n",
        report.requests,
        report.ok,
        percent(report.ok),
        failed,
        if kinds.is_empty() {
            String::new()
        } else {
            format!(": {}", kinds.join(", "))
        },
        report.p50_ms,
        report.p99_ms
    );
    if !report.faults.is_empty() {
        let rows: Vec<Vec<String>> = report
            .faults
            .iter()
            .map(|f| {
                vec![
                    f.kind.clone(),
                    format!("{:.1}s", f.at_s),
                    f.requests.to_string(),
                    f.failures.to_string(),
                    format!("{:.1}s", f.recovered_after_s),
                    format!("{:.1} ms", f.p99_ms),
                ]
            })
            .collect();
        out.push_str(&super::table::render(
            &[
                "FAULT",
                "AT",
                "REQUESTS",
                "FAILED",
                "RECOVERED AFTER",
                "P99",
            ],
            &rows,
        ));
    }
    out
}
