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
    // As the server verifies: in a reused working memory, known and unknown logins
    // interleaved so that both see the same moments of a shared machine.
    let mut memory = password::Memory::default();
    let mut verify = |password: &str, phc: &str| {
        let started = Instant::now();
        let matches = password::verify_in(black_box(password), phc, &mut memory);
        (matches, started.elapsed().as_secs_f64())
    };
    verify("", &phc); // warm-up: the first call allocates the working memory
    let (mut basic, mut unknown) = (0.0, 0.0);
    const ROUNDS: u32 = 20;
    for _ in 0..ROUNDS {
        let (matches, known_s) = verify("correct horse battery staple", &phc);
        assert!(matches);
        let (matches, decoy_s) = verify("x", password::decoy_hash());
        assert!(!matches);
        basic += known_s / f64::from(ROUNDS);
        unknown += decoy_s / f64::from(ROUNDS);
    }
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
