//! `omni crdgen`: writes the custom resource definitions generated from the Rust policy types (the Helm chart
//! installs them from `charts/omni/crds/`), or checks that the committed ones are current.

use std::path::PathBuf;

use anyhow::{Context, bail};

/// Arguments of `omni crdgen`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Directory to write `<plural>.<group>.yaml` files into; `-` prints them to stdout.
    #[arg(long, default_value = "charts/omni/crds")]
    out: PathBuf,
    /// Write nothing; exit 1 naming each file that differs from what the types generate.
    #[arg(long)]
    check: bool,
}

/// Generates (or checks) the definitions.
pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let definitions = omni_kube::definitions().context("cannot serialise the definitions")?;
    if args.out.as_os_str() == "-" {
        for (_, yaml) in &definitions {
            print!("---\n{yaml}");
        }
        return Ok(());
    }
    let mut stale = Vec::new();
    for (name, yaml) in &definitions {
        let path = args.out.join(name);
        let current = std::fs::read_to_string(&path).ok();
        if current.as_deref() == Some(yaml.as_str()) {
            continue;
        }
        if args.check {
            stale.push(path.display().to_string());
            continue;
        }
        std::fs::create_dir_all(&args.out)
            .with_context(|| format!("cannot create {}", args.out.display()))?;
        std::fs::write(&path, yaml).with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    if !stale.is_empty() {
        bail!(
            "out of date with the Rust types (run `omni crdgen`): {}",
            stale.join(", ")
        );
    }
    Ok(())
}
