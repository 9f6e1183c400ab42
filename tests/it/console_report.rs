//! The compliance report of the web console (issue 27): as a page and as a PDF (laid out by
//! the gateway, or printed by headless Chromium at the operator's choice), checked through
//! poppler's `pdftotext` and `pdfinfo`; and the latest scrub's findings per bucket in it.

use crate::common::{ADMIN_TOKEN, TestGateway, admin_request, client};
use crate::console::{login, photos_with_two_objects, request, screenshots};

/// Promise: the compliance report, as a page and as a PDF download named by its day, states
/// every provider with its country and every bucket with the countries and providers holding
/// its data (checked in the PDF's own text, extracted by poppler's `pdftotext`), says that no
/// replica sits outside its policy, and gives the audit chain as intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compliance_report_names_every_bucket_and_provider_with_its_countries() {
    // The Dutch provider's parent company is Belgian: its jurisdictions differ from its
    // country; its operator's name is not ASCII.
    let gw = TestGateway::start_with(|t| {
        t.replace(
            "operator = \"Operator NL\"\njurisdictions = [\"NL\"]",
            "operator = \"Opérateur NL\"\njurisdictions = [\"NL\", \"BE\"]",
        )
    })
    .await;
    let admin = gw.admin_addr();
    let c = client(gw.addr);
    c.create_bucket().bucket("photos").send().await.unwrap();
    let de = aws_sdk_s3::types::CreateBucketConfiguration::builder().location_constraint("de-only".into()).build();
    c.create_bucket().bucket("archive").create_bucket_configuration(de).send().await.unwrap();
    for (b, k) in [("photos", "a"), ("photos", "b"), ("archive", "x")] {
        c.put_object().bucket(b).key(k).body(b"data".to_vec().into()).send().await.unwrap();
    }
    let cookie = login(admin, ADMIN_TOKEN).await;
    let html = request(admin, "GET", "/console/report", Some(&cookie), "").await;
    assert_eq!(html.status, 200);
    let page = html.body_text();
    assert!(
        page.contains("<p class=\"ok\" id=\"verdict-residency\">No replica of any bucket sits outside its policy"),
        "{page}"
    );
    assert!(page.contains("<tr><td>photos</td><td>eu-default</td><td>2</td><td>6</td><td>DE, FR, NL</td>"), "{page}");
    assert!(page.contains("<tr><td>archive</td><td>de-only</td><td>1</td><td>1</td><td>DE</td>"), "{page}");
    // No scrub ran: nothing checked, nothing awaiting repair, every replica not checked.
    assert!(page.contains("<tr><td>photos</td><td>6</td><td>0</td><td>0</td><td>0</td><td>6</td></tr>"), "{page}");

    let pdf = request(admin, "GET", "/console/report.pdf", Some(&cookie), "").await;
    assert_eq!((pdf.status, pdf.header("content-type")), (200, Some("application/pdf")));
    let today = time::OffsetDateTime::now_utc().date();
    let disposition = format!("attachment; filename=\"souverain-report-{today}.pdf\"");
    assert_eq!(pdf.header("content-disposition"), Some(disposition.as_str()));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.pdf");
    std::fs::write(&file, &pdf.body).unwrap();
    std::fs::create_dir_all(screenshots()).unwrap();
    std::fs::write(screenshots().join("report.pdf"), &pdf.body).unwrap();
    // Its second page (the map) as a picture, for docs/console.md.
    let shot = std::process::Command::new("pdftoppm")
        .args(["-r", "60", "-png", "-f", "2", "-l", "2", "-singlefile"])
        .arg(&file)
        .arg(screenshots().join("report-pdf"))
        .status()
        .expect("pdftoppm (poppler-utils)");
    assert!(shot.success());
    // `-layout` keeps each table row on one line, its cells in their columns' order.
    let out = std::process::Command::new("pdftotext")
        .args([std::ffi::OsStr::new("-layout"), file.as_os_str(), std::ffi::OsStr::new("-")])
        .output()
        .expect("pdftotext (poppler-utils; scripts/install-deps.sh --test-tools installs it)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(text.starts_with(&format!("souverain compliance report, {today}")), "{text}");
    assert_eq!(pdf_pages(&file), 3, "the map on a page of its own: {text}");
    for page in 1..=3 {
        assert!(text.contains(&format!("souverain compliance report {today} \u{b7} page {page} of 3")), "{text}");
    }
    // Each provider's row: id, country, operator, its ownership chain, no exposure.
    let rows = [
        ("local-de", "DE", "Operator DE", "DE"),
        ("local-fr", "FR", "Operator FR", "FR"),
        ("local-nl", "NL", "Opérateur NL", "NL > BE"),
    ];
    for (id, country, operator, chain) in rows {
        let row = format!("{id} {country} {operator} {chain} none");
        assert!(text.contains(&row), "{row} in {text}");
    }
    // Each bucket's row: policy, versions, replicas, countries, jurisdictions, providers, outside.
    assert!(text.contains("photos eu-default 2 6 DE, FR, NL BE, DE, FR, NL local-de, local-fr, local-nl 0"), "{text}");
    assert!(text.contains("archive de-only 1 1 DE DE local-de 0"), "{text}");
    assert!(text.contains("No replica of any bucket sits outside its policy"), "{text}");
    // The map's labels: the providers of each country.
    for site in ["DE: local-de", "FR: local-fr", "NL: local-nl"] {
        assert!(text.contains(site), "{site} in {text}");
    }
    // Two objects of 4 bytes at all three, one more at DE: 116 bytes of ciphertext each (the
    // 96-byte header, 4 bytes, the 16-byte tag).
    for (provider, replicas) in [("local-de", 3), ("local-fr", 2), ("local-nl", 2)] {
        let row = format!("{provider} {replicas} {}", replicas * 116);
        assert!(text.contains(&row), "{row} in {text}");
    }
    // No scrub ran: nothing checked, nothing awaiting repair, every replica unchecked.
    assert!(text.contains("archive 1 0 0 0 1 photos 6 0 0 0 6"), "{text}");
    assert!(text.contains(", intact, sealed through record "), "{text}");
    gw.stop().await;
}

/// Promise: the report gives, per bucket, what the latest scrub pass found: with one replica
/// of `photos` deleted at its provider, the pass checks and reads whole the other five and the
/// missing one awaits repair; every replica of `logs` is checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_gives_the_latest_scrubs_findings_per_bucket() {
    // Repairs wait, so the finding stays queued while the report is read.
    let gw = TestGateway::start_with(|t| {
        crate::common::scrubbing_every_second(&t).replace("repair_interval_secs = 1\n", "repair_interval_secs = 3600\n")
    })
    .await;
    let admin = gw.admin_addr();
    photos_with_two_objects(&gw).await;
    let c = client(gw.addr);
    c.create_bucket().bucket("logs").send().await.unwrap();
    c.put_object().bucket("logs").key("l").body(b"log line".to_vec().into()).send().await.unwrap();
    let (_, text) = admin_request(admin, "GET", "/admin/v1/locations/photos/k0", "").await;
    let name =
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["streams"][0]["name"].as_str().unwrap().to_owned();
    let (file, _) = gw.stream_files().into_iter().find(|(p, _)| p.ends_with(&name)).unwrap();
    std::fs::remove_file(&file).unwrap();
    let cookie = login(admin, ADMIN_TOKEN).await;
    let rows = [
        "<tr><td>photos</td><td>6</td><td>5</td><td>5</td><td>1</td><td>0</td></tr>",
        "<tr><td>logs</td><td>3</td><td>3</td><td>3</td><td>0</td><td>0</td></tr>",
    ];
    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(1);
    let page = loop {
        let page = request(admin, "GET", "/console/report", Some(&cookie), "").await.body_text();
        if rows.iter().all(|r| page.contains(r)) || std::time::Instant::now() > deadline {
            break page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(rows.iter().all(|r| page.contains(r)), "{rows:?} in {page}");
    assert!(!file.exists(), "the repair waited");
    gw.stop().await;
}

/// What poppler's `pdfinfo` says of a PDF.
fn pdf_info(file: &std::path::Path) -> String {
    let out = std::process::Command::new("pdfinfo").arg(file).output().expect("pdfinfo (poppler-utils)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The pages of a PDF, as `pdfinfo` counts them.
fn pdf_pages(file: &std::path::Path) -> usize {
    let info = pdf_info(file);
    let pages = info.lines().find_map(|l| l.strip_prefix("Pages:")).unwrap_or_else(|| panic!("{info}"));
    pages.trim().parse().unwrap()
}

/// The text of a PDF, as poppler's `pdftotext` extracts it, its white space collapsed.
fn pdf_text(file: &std::path::Path) -> String {
    let out = std::process::Command::new("pdftotext").arg(file).arg("-").output().expect("pdftotext (poppler-utils)");
    String::from_utf8_lossy(&out.stdout).split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Promise: an operator who chooses `report_pdf = "chromium"` gets the report's PDF printed
/// by headless Chromium from the report's own page (its producer is Chromium's Skia; its text
/// names the bucket and the verdict); a Chromium that cannot run answers 503 saying why,
/// never a broken file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reports_pdf_can_be_printed_by_chromium() {
    let chosen = |program: &str| {
        let program = program.to_owned();
        move |t: String| t.replace("[admin]\n", &format!("[admin]\nreport_pdf = \"chromium\"\n{program}"))
    };
    let gw = TestGateway::start_with(chosen("")).await;
    let admin = gw.admin_addr();
    let c = client(gw.addr);
    c.create_bucket().bucket("photos").send().await.unwrap();
    c.put_object().bucket("photos").key("a").body(b"data".to_vec().into()).send().await.unwrap();
    let cookie = login(admin, ADMIN_TOKEN).await;
    let pdf = request(admin, "GET", "/console/report.pdf", Some(&cookie), "").await;
    assert_eq!((pdf.status, pdf.header("content-type")), (200, Some("application/pdf")), "{}", pdf.body_text());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.pdf");
    std::fs::write(&file, &pdf.body).unwrap();
    let info = pdf_info(&file);
    assert!(info.lines().any(|l| l.starts_with("Producer:") && l.contains("Skia/PDF")), "{info}");
    let text = pdf_text(&file);
    let today = time::OffsetDateTime::now_utc().date();
    assert!(text.contains(&format!("souverain compliance report, {today}")), "{text}");
    assert!(text.contains("No replica of any bucket sits outside its policy") && text.contains(" photos "), "{text}");
    assert!(text.contains("local-nl NL Operator NL NL"), "the providers' table: {text}");
    gw.stop().await;

    let gw = TestGateway::start_with(chosen("chromium = \"/nonexistent/chromium\"\n")).await;
    let cookie = login(gw.admin_addr(), ADMIN_TOKEN).await;
    let refused = request(gw.admin_addr(), "GET", "/console/report.pdf", Some(&cookie), "").await;
    assert_eq!(refused.status, 503);
    assert!(
        refused.body_text().contains("could not be printed by /nonexistent/chromium: cannot start it"),
        "{}",
        refused.body_text()
    );
    gw.stop().await;
}
