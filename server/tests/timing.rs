//! Basic for an unknown login must cost what a wrong password costs, or response times
//! tell which logins exist. A test binary of its own, so no other test's load skews it.

mod common;

use std::time::{Duration, Instant};

use common::TestApp;
use onezone_server::throttle::ThrottleConfig;

/// The median of `samples`, in milliseconds.
fn median_ms(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1e3
}

#[tokio::test]
#[ignore = "a timing measurement; `cargo xtask ci` runs it"]
async fn unknown_logins_cost_the_same_as_wrong_passwords() {
    let app = TestApp::spawn_throttled(ThrottleConfig {
        per_login: u32::MAX,
        per_address: u32::MAX,
        ..Default::default()
    })
    .await;
    app.user("alice", "right").await;
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    // Interleaved, so that machine noise falls on both alike.
    for i in 0..40 {
        let started = Instant::now();
        assert_eq!(app.get_spaces_basic("alice", "wrong").await.status, 401);
        known.push(started.elapsed());
        let started = Instant::now();
        assert_eq!(
            app.get_spaces_basic(&format!("nobody{i}"), "wrong")
                .await
                .status,
            401
        );
        unknown.push(started.elapsed());
    }
    let (known, unknown) = (median_ms(known), median_ms(unknown));
    let ratio = unknown / known;
    println!(
        "Basic timing: wrong password {known:.2} ms, unknown login {unknown:.2} ms (medians of 40), ratio {ratio:.3}"
    );
    assert!(
        (0.8..=1.25).contains(&ratio),
        "unknown/known = {ratio:.3}: timing tells which logins exist"
    );
}
