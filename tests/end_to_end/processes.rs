//! `omni` processes for the crash tests: started from the test binary's sibling `omni` with a settings file,
//! killed with SIGKILL, waited for until ready. Each process's output goes to a log file in the run's scratch
//! directory, shown when a test fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A scratch directory removed when dropped.
pub(crate) struct ScratchDir(PathBuf);

impl ScratchDir {
    /// A new, empty one under the system's temporary directory, named after `what`.
    pub(crate) fn new(what: &str) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("omni-{what}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Self(dir))
    }

    /// A path inside it.
    pub(crate) fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A PostgreSQL cluster of a test's own (`initdb` into a scratch directory, on a free port of 127.0.0.1) that can
/// be stopped as a crash stops it (`pg_ctl stop -m immediate`: no checkpoint, every client cut) and started again
/// on its data. Run as the `postgres` user when the test runs as root (`initdb` refuses root). The server's
/// programs are found with `pg_config --bindir`, or in `OMNI_POSTGRES_BIN_DIR`.
pub(crate) struct PrivatePostgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    as_postgres: bool,
    running: bool,
}

impl PrivatePostgres {
    /// Creates the cluster under `dir` and starts it.
    pub(crate) fn create(dir: &Path) -> anyhow::Result<Self> {
        let bin = match std::env::var("OMNI_POSTGRES_BIN_DIR") {
            Ok(dir) => PathBuf::from(dir),
            Err(_) => {
                let out = Command::new("pg_config")
                    .arg("--bindir")
                    .output()
                    .context("pg_config (set OMNI_POSTGRES_BIN_DIR to the PostgreSQL server's bin)")?;
                PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
            }
        };
        let uid = Command::new("id").arg("-u").output().context("id -u")?;
        let as_postgres = String::from_utf8_lossy(&uid.stdout).trim() == "0";
        let data = dir.join("pgdata");
        std::fs::create_dir_all(&data)?;
        let mut postgres = Self {
            bin,
            data,
            port: free_port()?,
            as_postgres,
            running: false,
        };
        if as_postgres {
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&postgres.data))?;
        }
        let data = postgres.data.clone();
        run(postgres.command("initdb").arg("-D").arg(&data).args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        ]))?;
        postgres.start()?;
        Ok(postgres)
    }

    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    /// Starts it (on the data it has) and waits until it takes connections.
    pub(crate) fn start(&mut self) -> anyhow::Result<()> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.data.display()
        );
        let (data, log) = (self.data.clone(), self.data.join("server.log"));
        run(self
            .command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "-o", &options, "start"]))?;
        self.running = true;
        Ok(())
    }

    /// Stops it at once, as a crash does: every connection cut, nothing flushed beyond what committed.
    pub(crate) fn stop_immediately(&mut self) -> anyhow::Result<()> {
        let data = self.data.clone();
        run(self
            .command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "-w", "stop"]))?;
        self.running = false;
        Ok(())
    }

    /// Its `postgres` database.
    pub(crate) fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        if self.running {
            let _ = self.stop_immediately();
        }
    }
}

/// Runs `command` to its end; an error with its output if it failed.
fn run(command: &mut Command) -> anyhow::Result<()> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {command:?}"))?;
    anyhow::ensure!(
        out.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// A free port on 127.0.0.1 (free when asked; the process that binds it comes next).
pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `N` distinct free ports on 127.0.0.1: each is held until all are picked, so the system cannot hand out one
/// twice.
pub(crate) fn free_ports<const N: usize>() -> anyhow::Result<[u16; N]> {
    let held = (0..N)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()?;
    let mut ports = [0; N];
    for (port, listener) in ports.iter_mut().zip(&held) {
        *port = listener.local_addr()?.port();
    }
    Ok(ports)
}

/// Starts `omni <args>` with the settings file `config`, its stdout and stderr appended to `log`.
pub(crate) fn start_omni(args: &[&str], config: &Path, log: &Path) -> anyhow::Result<Child> {
    start_omni_with(args, config, log, &[])
}

/// [`start_omni`] with extra environment variables (failpoints, say).
pub(crate) fn start_omni_with(
    args: &[&str],
    config: &Path,
    log: &Path,
    env: &[(&str, &str)],
) -> anyhow::Result<Child> {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("opening {}", log.display()))?;
    let err = out.try_clone()?;
    Ok(Command::new(env!("CARGO_BIN_EXE_omni"))
        .args(args)
        .arg("--config")
        .arg(config)
        .env_remove("OMNI_CONFIG")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()?)
}

/// Kills `child` with SIGKILL and reaps it.
pub(crate) fn kill_hard(child: &mut Child) -> anyhow::Result<()> {
    let _ = child.kill(); // SIGKILL
    child.wait()?;
    Ok(())
}

/// Waits until `GET <base>/<path>` answers 2xx, while `child` (named `what`) runs; at most 60 s.
pub(crate) async fn ready(base: &str, path: &str, child: &mut Child, what: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(answer) = client.get(format!("{base}{path}")).send().await
            && answer.status().is_success()
        {
            return Ok(());
        }
        if let Some(exit) = child.try_wait()? {
            bail!("{what} exited before it was ready: {exit:?}");
        }
        if started.elapsed() > Duration::from_secs(60) {
            bail!("{what} was not ready within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The last `lines` lines of a log file (for a failure's message).
pub(crate) fn tail(log: &Path, lines: usize) -> String {
    tail_matching(log, lines, "")
}

/// The last `lines` lines of a log file that contain `needle` (for a failure's message).
pub(crate) fn tail_matching(log: &Path, lines: usize, needle: &str) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let all: Vec<&str> = text.lines().filter(|l| l.contains(needle)).collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The test script's real backends for processes of a crash test: a database of its own, the broker, and topic
/// names and a consumer group prefix of its own.
pub(crate) struct Backends {
    /// The run's database (dropped with it).
    pub(crate) database: omni_db::testing::TestDatabase,
    /// The settings the test's own clients use.
    pub(crate) settings: omni_config::Settings,
}

impl Backends {
    /// A new database on PostgreSQL and isolated topics on the test script's broker.
    pub(crate) fn new() -> anyhow::Result<Self> {
        let bootstrap = omni_testkit::testing::kafka_bootstrap()
            .context("OMNI_TEST_KAFKA_BOOTSTRAP is not set: run the suite with scripts/test.sh")?;
        let database = omni_db::testing::TestDatabase::create(omni_db::testing::Backend::Postgres)?;
        let mut settings = omni_testkit::testing::settings();
        omni_testkit::testing::isolate_kafka(&mut settings);
        settings.kafka.bootstrap_servers = bootstrap;
        Ok(Self { database, settings })
    }

    /// The settings file's `[database]` and `[kafka]` sections for a process of the run: a member that dies is
    /// out of its consumer group after `session_timeout_ms`.
    pub(crate) fn toml(&self, session_timeout_ms: u32) -> String {
        self.toml_on(&self.database.url, session_timeout_ms)
    }

    /// [`Backends::toml`] with the database at `database_url` instead of the run's own.
    pub(crate) fn toml_on(&self, database_url: &str, session_timeout_ms: u32) -> String {
        let topics: String = self
            .settings
            .kafka
            .topics
            .iter()
            .map(|(k, v)| format!("{k} = \"{v}\"\n"))
            .collect();
        format!(
            "[database]\nurl = \"{db}\"\n\n[kafka]\nbootstrap_servers = \"{bootstrap}\"\ngroup_prefix = \"{group}\"\n\n\
             [kafka.properties]\n\"session.timeout.ms\" = \"{session_timeout_ms}\"\n\
             \"heartbeat.interval.ms\" = \"500\"\n\n[kafka.topics]\n{topics}\n",
            db = database_url,
            bootstrap = self.settings.kafka.bootstrap_servers,
            group = self.settings.kafka.group_prefix,
        )
    }
}
