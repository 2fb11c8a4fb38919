//! Failpoints between the steps of the hold path, where Redis and PostgreSQL meet (DESIGN §4: the crash test
//! strikes between each step). They exist only in builds with the `failpoints` feature (the test builds); a release
//! build has none. Configured with the `fail` crate's actions, in a test (`fail::cfg`) or for a whole process from
//! `OMNI_FAILPOINTS` (`name=actions;name=actions`, e.g. `allocation::hold::between-store-and-ledger=2%return(crash)`):
//! `return(crash)` ends the process there at once, as `kill -9` would; a plain `return` fails the step with an error
//! (the process lives on); `pause`, `sleep(ms)` and callbacks stop it there.

/// After the hold store held a new hold, before the ledger recorded it.
pub const HOLD_BETWEEN_STORE_AND_LEDGER: &str = "allocation::hold::between-store-and-ledger";
/// After the ledger recorded a new hold, before the caller heard of it.
pub const HOLD_BETWEEN_LEDGER_AND_ANSWER: &str = "allocation::hold::between-ledger-and-answer";
/// After the ledger ended a hold (released, expired or committed), before the hold store followed.
pub const END_BETWEEN_LEDGER_AND_STORE: &str = "allocation::end::between-ledger-and-store";
/// After the hold store took what stock movements take, before the ledger recorded them.
pub const MOVEMENT_BETWEEN_STORE_AND_LEDGER: &str = "allocation::movement::between-store-and-ledger";
/// After the ledger recorded stock movements, before the hold store followed.
pub const MOVEMENT_BETWEEN_LEDGER_AND_STORE: &str = "allocation::movement::between-ledger-and-store";
/// Between the two reads of a ledger snapshot (levels, then holds) of a load or a reconciliation.
pub const SNAPSHOT_BETWEEN_READS: &str = "allocation::snapshot::between-reads";
/// After a load filled the hold store, before its transaction (the generation it took) committed.
pub const LOAD_BETWEEN_STORE_AND_COMMIT: &str = "allocation::load::between-store-and-commit";

/// Every failpoint, for `--help`-like listings and the crash test.
pub const ALL: [&str; 7] = [
    HOLD_BETWEEN_STORE_AND_LEDGER,
    HOLD_BETWEEN_LEDGER_AND_ANSWER,
    END_BETWEEN_LEDGER_AND_STORE,
    MOVEMENT_BETWEEN_STORE_AND_LEDGER,
    MOVEMENT_BETWEEN_LEDGER_AND_STORE,
    SNAPSHOT_BETWEEN_READS,
    LOAD_BETWEEN_STORE_AND_COMMIT,
];

/// The variable a process reads its failpoints from.
pub const ENV: &str = "OMNI_FAILPOINTS";

/// A failpoint: nothing unless configured. Configured `return(crash)`, the process ends there; a plain `return`
/// returns `$failed` from the enclosing function.
macro_rules! failpoint {
    ($name:expr, $failed:expr) => {
        #[cfg(feature = "failpoints")]
        fail::fail_point!($name, |how: Option<String>| {
            if how.as_deref() == Some("crash") {
                $crate::failpoints::crash($name);
            }
            $failed
        });
        #[cfg(not(feature = "failpoints"))]
        let _ = $name;
    };
}
pub(crate) use failpoint;

/// Ends the process at once, without unwinding or flushing anything (as `kill -9` would).
#[cfg(feature = "failpoints")]
pub fn crash(name: &str) -> ! {
    eprintln!("failpoint {name}: the process ends here");
    std::process::abort()
}

/// Configures the failpoints named in [`ENV`]; an unknown name or bad action is an error naming it.
#[cfg(feature = "failpoints")]
pub fn configure_from_env() -> Result<(), String> {
    let Ok(spec) = std::env::var(ENV) else {
        return Ok(());
    };
    for entry in spec.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, actions) = entry
            .split_once('=')
            .ok_or_else(|| format!("{ENV}: `{entry}` is not name=actions"))?;
        if !ALL.contains(&name) {
            return Err(format!(
                "{ENV}: unknown failpoint `{name}` (known: {})",
                ALL.join(", ")
            ));
        }
        fail::cfg(name, actions).map_err(|e| format!("{ENV}: {name}: {e}"))?;
        tracing::warn!(failpoint = name, actions, "Failpoint armed.");
    }
    Ok(())
}

/// Without the `failpoints` feature, [`ENV`] set is refused: a crash test must not run against a build that
/// cannot strike.
#[cfg(not(feature = "failpoints"))]
pub fn configure_from_env() -> Result<(), String> {
    match std::env::var(ENV) {
        Ok(spec) if !spec.trim().is_empty() => Err(format!(
            "{ENV} is set but this build has no failpoints (build with the `failpoints` feature)"
        )),
        _ => Ok(()),
    }
}
