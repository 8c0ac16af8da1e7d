//! How the workspace is put together: the service is built without the bank simulators.

use std::process::Command;

use crate::support::workspace_dir;

/// `payments` depends on `bank-adapters` without its `sim` feature, so a build of the service
/// alone compiles neither the simulators nor their server stack (`bank-sim` is built because
/// `sim` is a default feature of `bank-adapters` itself). Reads the lock file only.
#[test]
fn the_service_is_built_without_the_bank_simulators() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .current_dir(workspace_dir())
        .args(["tree", "--offline", "--package", "payments"])
        .args(["--edges", "features,normal", "--prefix", "none"])
        .output()
        .expect("running cargo tree");
    let tree = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        tree.lines().any(|line| line.starts_with("bank-adapters v")),
        "payments no longer depends on bank-adapters?\n{tree}"
    );
    let features: Vec<&str> = tree
        .lines()
        .filter(|line| line.starts_with("bank-adapters feature"))
        .collect();
    assert!(
        features.is_empty(),
        "payments turns on bank-adapters features {features:?}; the simulators (`sim`) must stay \
         out of the service"
    );
}
