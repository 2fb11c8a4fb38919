//! The Redis hold store over TLS (`rediss://`, a private CA) and on a Redis Cluster of three masters: the same
//! operations on the in-memory store and on each must give the same answers, with holds and a rebuild from the
//! ledger spread over locations in different slots. Each test runs redis-servers of its own on free ports.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use omni_allocation::HoldStore;
use omni_allocation::holds::{
    KeepBack, MemoryHolds, RedisHolds, RedisOptions, ReserveOutcome, Snapshot, SnapshotHold,
};
use omni_contracts::events::HoldLine;
use omni_contracts::{LocationId, Quantity, ReservationId, Sku};

/// redis-servers of this test, killed (and their directory removed) when dropped.
struct Servers {
    dir: std::path::PathBuf,
    children: Vec<Child>,
}

impl Drop for Servers {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Servers {
    fn new() -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("omni-redis-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            dir,
            children: Vec::new(),
        })
    }

    /// Starts a redis-server with `args` (plus loopback, no persistence, its own directory) and waits for `port`.
    fn spawn(&mut self, port: u16, args: &[String]) -> anyhow::Result<()> {
        let bin = std::env::var("OMNI_REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".into());
        let dir = self.dir.join(port.to_string());
        std::fs::create_dir_all(&dir)?;
        let child = Command::new(bin)
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(args)
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start redis-server (set OMNI_REDIS_SERVER_BIN)")?;
        self.children.push(child);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(child) = self.children.last_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!("redis-server on {port} exited at once ({status}): a port it needs is taken");
            }
            ensure!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not start on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(free_ports(1)?[0])
}

/// `n` distinct free ports: all bound at once (so none is handed out twice), then let go.
fn free_ports(n: usize) -> anyhow::Result<Vec<u16>> {
    let listeners = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()?;
    listeners.iter().map(|l| Ok(l.local_addr()?.port())).collect()
}

fn run(program: &str, args: &[&str]) -> anyhow::Result<String> {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {program}"))?;
    ensure!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn location(i: usize) -> LocationId {
    LocationId::parse(&format!("STORE-{i}")).unwrap_or_else(|e| panic!("{e}"))
}

fn line(sku: &str, q: i64) -> HoldLine {
    HoldLine {
        sku: Sku::parse(sku).unwrap_or_else(|e| panic!("{e}")),
        quantity: Quantity::new(q).unwrap_or_else(|e| panic!("{e}")),
    }
}

/// One run of holds, a short, a release, a commit and a rebuild over `LOCATIONS` locations (different slots in a
/// cluster); what each step answered, to compare stores.
async fn exercise(store: &HoldStore) -> anyhow::Result<Vec<String>> {
    const LOCATIONS: usize = 12;
    let mut seen = Vec::new();
    let locations: Vec<String> = (0..LOCATIONS).map(|i| location(i).to_string()).collect();
    store
        .load(&Snapshot {
            generation: 1,
            locations: locations.clone(),
            ..Snapshot::default()
        })
        .await?;
    for i in 0..LOCATIONS {
        store.adjust_on_hand(&location(i), "TEE", 5, 1).await?;
        store.adjust_on_hand(&location(i), "CAP", 1, 1).await?;
    }
    let mut held = Vec::new();
    for i in 0..LOCATIONS {
        let id = ReservationId::generate();
        let outcome = store
            .reserve(
                id,
                &location(i),
                &[line("TEE", 2), line("CAP", 1)],
                &KeepBack::new(),
            )
            .await?;
        seen.push(format!(
            "{i}: {}",
            matches!(outcome, ReserveOutcome::Held { generation: 1 })
        ));
        // The CAP is gone now: a second hold on it is short, and holds nothing of TEE either.
        let again = store
            .reserve(
                ReservationId::generate(),
                &location(i),
                &[line("TEE", 1), line("CAP", 1)],
                &KeepBack::new(),
            )
            .await?;
        let ReserveOutcome::Short(short) = again else {
            bail!("{i}: the second CAP must be short")
        };
        seen.push(format!(
            "{i}: short {}/{}",
            short[0].requested, short[0].available
        ));
        held.push((i, id));
    }
    for (i, id) in &held {
        if i % 2 == 0 {
            store.release(*id, &location(*i)).await?;
        } else {
            store.commit(*id, &location(*i), None).await?;
        }
        seen.push(format!(
            "{i}: TEE {:?}",
            store.levels(&location(*i), "TEE").await?
        ));
    }
    // A rebuild from the ledger: what each location holds afterwards is exactly the snapshot.
    let snapshot = Snapshot {
        generation: 2,
        locations,
        on_hand: (0..LOCATIONS)
            .map(|i| (location(i).to_string(), "TEE".to_owned(), 10 + i as i64))
            .collect(),
        holds: (0..LOCATIONS)
            .map(|i| SnapshotHold {
                id: ReservationId::generate().to_string(),
                location: location(i).to_string(),
                lines: vec![("TEE".to_owned(), 1 + (i % 3) as i64)],
            })
            .collect(),
    };
    store.load(&snapshot).await?;
    ensure!(store.is_loaded().await?, "the store is loaded after a rebuild");
    for i in 0..LOCATIONS {
        seen.push(format!(
            "{i}: rebuilt TEE {:?} CAP {:?}",
            store.levels(&location(i), "TEE").await?,
            store.levels(&location(i), "CAP").await?
        ));
    }
    Ok(seen)
}

async fn same_as_memory(store: HoldStore) -> anyhow::Result<()> {
    let expected = exercise(&HoldStore::Memory(MemoryHolds::default())).await?;
    let got = exercise(&store).await?;
    ensure!(
        got == expected,
        "differs from the in-memory store:\n{got:#?}\nexpected:\n{expected:#?}"
    );
    store.ping().await?;
    Ok(())
}

#[tokio::test]
async fn the_hold_store_works_over_tls_with_a_private_ca() -> anyhow::Result<()> {
    let mut servers = Servers::new()?;
    let certs = omni_testkit::tls::certificates(&servers.dir.join("certs"))?;
    let port = free_port()?;
    let file = |path: &std::path::Path| path.display().to_string();
    servers.spawn(
        port,
        &[
            "--port".into(),
            "0".into(),
            "--tls-port".into(),
            port.to_string(),
            "--tls-cert-file".into(),
            file(&certs.cert),
            "--tls-key-file".into(),
            file(&certs.key),
            "--tls-ca-cert-file".into(),
            file(&certs.ca),
            "--tls-auth-clients".into(),
            "no".into(),
        ],
    )?;
    let url = format!("rediss://127.0.0.1:{port}");
    let ca_pem = std::fs::read(&certs.ca)?;
    // Without the CA the server's certificate is not trusted: the connection is refused, not downgraded.
    let Err(untrusted) = RedisHolds::connect(&url, "tls").await else {
        bail!("a certificate from an unknown CA was accepted");
    };
    ensure!(untrusted.to_string().contains("certificate"), "{untrusted}");
    let store = RedisHolds::connect_with(
        &url,
        "tls",
        &RedisOptions {
            cluster: false,
            ca_pem: Some(ca_pem),
        },
    )
    .await?;
    same_as_memory(HoldStore::Redis(store)).await
}

#[tokio::test]
async fn the_hold_store_works_on_a_redis_cluster_of_three_masters() -> anyhow::Result<()> {
    let mut servers = Servers::new()?;
    // Each node's cluster bus gets a free port of its own: by default it is the port + 10,000, which may be taken,
    // or beyond 65,535 for a port from the top of the ephemeral range (the server then refuses to start).
    let free = free_ports(6)?;
    let ports = [free[0], free[1], free[2]];
    for (port, bus) in ports.into_iter().zip(&free[3..]) {
        servers.spawn(
            port,
            &[
                "--port".into(),
                port.to_string(),
                "--cluster-port".into(),
                bus.to_string(),
                "--cluster-enabled".into(),
                "yes".into(),
                "--cluster-config-file".into(),
                format!("nodes-{port}.conf"),
            ],
        )?;
    }
    let nodes: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let mut create = vec!["--cluster", "create"];
    create.extend(nodes.iter().map(String::as_str));
    create.extend(["--cluster-replicas", "0", "--cluster-yes"]);
    run("redis-cli", &create)?;
    let started = Instant::now();
    loop {
        let info = run("redis-cli", &["-p", &ports[0].to_string(), "cluster", "info"])?;
        if info.contains("cluster_state:ok") {
            break;
        }
        ensure!(
            started.elapsed() < Duration::from_secs(20),
            "the cluster did not form: {info}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let url = nodes
        .iter()
        .map(|n| format!("redis://{n}"))
        .collect::<Vec<_>>()
        .join(",");
    let store = RedisHolds::connect_with(
        &url,
        "cluster",
        &RedisOptions {
            cluster: true,
            ca_pem: None,
        },
    )
    .await?;
    same_as_memory(HoldStore::Redis(store)).await?;
    // The locations really are spread: every master holds some of their keys.
    for port in ports {
        let keys = run("redis-cli", &["-p", &port.to_string(), "dbsize"])?;
        ensure!(
            keys.trim().parse::<u64>().unwrap_or(0) > 0,
            "master {port} holds no key: the keys are not spread"
        );
    }
    Ok(())
}
