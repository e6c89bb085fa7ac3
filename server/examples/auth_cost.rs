//! Prints what one credential check costs in CPU: an argon2id verification (HTTP
//! Basic) against the SHA-256 of a token, measured in the same run.
//!
//! cargo run --release -p onezone-server --example auth_cost

use std::hint::black_box;
use std::time::Instant;

use onezone_server::{ids, password};

fn per_op(iterations: u32, mut op: impl FnMut()) -> f64 {
    op(); // warm-up
    let started = Instant::now();
    for _ in 0..iterations {
        op();
    }
    started.elapsed().as_secs_f64() / f64::from(iterations)
}

fn main() {
    let phc = password::hash("correct horse battery staple");
    let basic = per_op(20, || {
        assert!(password::verify(
            black_box("correct horse battery staple"),
            &phc
        ))
    });
    let unknown = per_op(20, || {
        assert!(!password::verify(black_box("x"), password::decoy_hash()))
    });
    let token = ids::new_token();
    let token_cost = per_op(100_000, || {
        black_box(ids::token_hash(black_box(&token)));
    });
    println!(
        "argon2id parameters: {}",
        phc.split('$').nth(3).unwrap_or("?")
    );
    println!(
        "Basic, known login:   {:8.2} ms per verification",
        basic * 1e3
    );
    println!(
        "Basic, unknown login: {:8.2} ms per verification (decoy hash)",
        unknown * 1e3
    );
    println!(
        "token hash (SHA-256): {:8.4} ms per token",
        token_cost * 1e3
    );
    println!("unknown / known login: {:.3}", unknown / basic);
    println!("Basic / token:        {:.0}x", basic / token_cost);
}
