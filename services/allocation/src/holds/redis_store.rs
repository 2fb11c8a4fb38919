use omni_contracts::events::{HoldLine, Shortage};
use omni_contracts::{LocationId, ReservationId, Sku};
use redis::aio::ConnectionManager;

use super::{Generation, HoldError, KeepBack, ReserveOutcome, Snapshot};

/// Holds every line at one location or none; idempotent by reservation id. Every hold is stamped with the
/// location's generation (the one the hold store was last loaded under, `{loc}:gen`): a hold of an earlier
/// generation was not in the ledger when the store was loaded, so it is not counted, and every script ignores it
/// (and drops it).
/// KEYS: on-hand hash, reserved hash, the reservation's hash, the location's generation. ARGV: line count, then
/// `sku, qty, keep_back` triples (`keep_back`: units the caller's buffer rules withhold from it). Returns
/// `{"held", generation}`, `{"short", sku, requested, available, ...}`, or `{"unloaded"}` when the location has no
/// generation (the store was emptied, or never loaded with it).
pub const RESERVE_SCRIPT: &str = r#"
local gen = redis.call('GET', KEYS[4])
if not gen then return {'unloaded'} end
if redis.call('EXISTS', KEYS[3]) == 1 then
  if redis.call('HGET', KEYS[3], '_gen') == gen then return {'held', gen} end
  redis.call('DEL', KEYS[3])
end
local n = tonumber(ARGV[1])
local short = {'short'}
for i = 0, n - 1 do
  local sku = ARGV[2 + 3 * i]
  local qty = tonumber(ARGV[3 + 3 * i])
  local available = tonumber(redis.call('HGET', KEYS[1], sku) or '0') - tonumber(redis.call('HGET', KEYS[2], sku) or '0') - tonumber(ARGV[4 + 3 * i])
  if available < qty then
    table.insert(short, sku); table.insert(short, tostring(qty)); table.insert(short, tostring(math.max(available, 0)))
  end
end
if #short > 1 then return short end
for i = 0, n - 1 do
  local sku = ARGV[2 + 3 * i]
  local qty = tonumber(ARGV[3 + 3 * i])
  redis.call('HINCRBY', KEYS[2], sku, qty)
  redis.call('HSET', KEYS[3], sku, qty)
end
redis.call('HSET', KEYS[3], '_gen', gen)
return {'held', gen}
"#;

/// The lines of a hold counted in the current generation, or nothing (it is dropped) when it is of an earlier one
/// or unknown. KEYS[gen_key] is the location's generation, KEYS[res_key] the reservation's hash.
const CURRENT_LINES: &str = r#"
local function current_lines(res_key, gen_key)
  local gen = redis.call('GET', gen_key)
  local stamp = redis.call('HGET', res_key, '_gen')
  if not stamp or stamp ~= gen then
    redis.call('DEL', res_key)
    return {}
  end
  local all = redis.call('HGETALL', res_key)
  local lines = {}
  for i = 1, #all, 2 do
    if all[i] ~= '_gen' then table.insert(lines, all[i]); table.insert(lines, all[i + 1]) end
  end
  return lines
end
"#;

/// Releases a hold: gives its lines back and deletes it. KEYS: reserved hash, the reservation's hash, the
/// location's generation.
const RELEASE: &str = r#"
local lines = current_lines(KEYS[2], KEYS[3])
for i = 1, #lines, 2 do redis.call('HINCRBY', KEYS[1], lines[i], -tonumber(lines[i + 1])) end
redis.call('DEL', KEYS[2])
return #lines / 2
"#;

/// Commits a hold: the units that left leave on-hand, and the hold is gone (fulfilled), in one step. KEYS: on-hand
/// hash, reserved hash, the reservation's hash, the location's generation. ARGV: `sku, units` pairs of what left,
/// when not every held unit did (the rest is released; at most what was held leaves). Returns the number of lines
/// (0 when nothing was held in this generation: the ledger the store was loaded from had it committed already).
const COMMIT: &str = r#"
local lines = current_lines(KEYS[3], KEYS[4])
local left = nil
if #ARGV > 0 then
  left = {}
  for i = 1, #ARGV, 2 do left[ARGV[i]] = tonumber(ARGV[i + 1]) end
end
for i = 1, #lines, 2 do
  local held = tonumber(lines[i + 1])
  local gone = held
  if left then gone = math.min(held, left[lines[i]] or 0) end
  -- Nothing gone: no write (Lua would pass -0, which Redis refuses as an integer).
  if gone > 0 then redis.call('HINCRBY', KEYS[1], lines[i], -gone) end
  redis.call('HINCRBY', KEYS[2], lines[i], -held)
end
redis.call('DEL', KEYS[3])
return #lines / 2
"#;

/// Gives back units of a hold: KEYS: reserved hash, the reservation's hash, the location's generation. ARGV:
/// `sku, units` pairs (at most what is held of each). A line given back whole leaves the hold. Returns the units
/// given back.
const REDUCE: &str = r#"
local lines = current_lines(KEYS[2], KEYS[3])
if #lines == 0 then return 0 end
local given = 0
for i = 1, #ARGV, 2 do
  local held = tonumber(redis.call('HGET', KEYS[2], ARGV[i]) or '0')
  local take = math.min(held, tonumber(ARGV[i + 1]))
  if take > 0 then
    redis.call('HINCRBY', KEYS[1], ARGV[i], -take)
    if held - take > 0 then redis.call('HSET', KEYS[2], ARGV[i], held - take) else redis.call('HDEL', KEYS[2], ARGV[i]) end
    given = given + take
  end
end
return given
"#;

/// Moves on-hand of a SKU by a ledger movement recorded under a generation, only if the store is still loaded
/// under it (a store loaded later was loaded from a ledger that had the movement). KEYS: on-hand hash, the
/// location's generation. ARGV: sku, delta, generation. Returns 1 if applied.
const ADJUST: &str = r#"
if redis.call('GET', KEYS[2]) ~= ARGV[3] then return 0 end
redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
return 1
"#;

/// Takes units off on-hand ahead of the ledger, under the location's generation. KEYS: on-hand hash, the
/// location's generation. ARGV: sku, units, `by` (take that many) or `to` (down to that level, if above). Returns
/// `{generation, taken}`, or nothing when the location is not loaded.
const TAKE_AHEAD: &str = r#"
local gen = redis.call('GET', KEYS[2])
if not gen then return {} end
local take = tonumber(ARGV[2])
if ARGV[3] == 'to' then
  take = math.max(0, tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') - take)
end
if take > 0 then redis.call('HINCRBY', KEYS[1], ARGV[1], -take) end
return {gen, tostring(take)}
"#;

/// How long the first connection may take before the start fails.
const FIRST_CONNECTION: std::time::Duration = std::time::Duration::from_secs(10);

/// How to reach Redis beyond its URL.
#[derive(Debug, Clone, Default)]
pub struct RedisOptions {
    /// Redis Cluster: the URL lists seed nodes, comma-separated (`redis://a:6379,redis://b:6379`).
    pub cluster: bool,
    /// PEM certificates to trust for `rediss://` instead of the system's roots (a private CA).
    pub ca_pem: Option<Vec<u8>>,
}

/// One Redis server (reconnecting) or a Redis Cluster (routing each command by its key's slot).
#[derive(Clone)]
enum Connection {
    Single(ConnectionManager),
    Cluster(redis::cluster_async::ClusterConnection),
}

impl redis::aio::ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a redis::Cmd) -> redis::RedisFuture<'a, redis::Value> {
        match self {
            Connection::Single(c) => c.req_packed_command(cmd),
            Connection::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        match self {
            Connection::Single(c) => c.req_packed_commands(cmd, offset, count),
            Connection::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Single(c) => c.get_db(),
            Connection::Cluster(c) => c.get_db(),
        }
    }
}

/// The Redis hold store. Every key of a location carries its hash tag, so one script (and one location's
/// pipeline) stays in one cluster slot.
#[derive(Clone)]
pub struct RedisHolds {
    conn: Connection,
    prefix: String,
    reserve: std::sync::Arc<redis::Script>,
    release: std::sync::Arc<redis::Script>,
    commit: std::sync::Arc<redis::Script>,
    reduce: std::sync::Arc<redis::Script>,
    adjust: std::sync::Arc<redis::Script>,
    take_ahead: std::sync::Arc<redis::Script>,
}

impl RedisHolds {
    /// Connects to one Redis server (failing now if it is unreachable).
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, HoldError> {
        Self::connect_with(url, prefix, &RedisOptions::default()).await
    }

    /// Connects to one server or a cluster, over TLS for `rediss://` URLs (failing now if unreachable).
    pub async fn connect_with(url: &str, prefix: &str, options: &RedisOptions) -> Result<Self, HoldError> {
        let certificates = || redis::TlsCertificates {
            client_tls: None,
            root_cert: options.ca_pem.clone(),
        };
        let conn = if options.cluster {
            let nodes: Vec<&str> = url.split(',').map(str::trim).filter(|n| !n.is_empty()).collect();
            let mut builder = redis::cluster::ClusterClientBuilder::new(nodes);
            if options.ca_pem.is_some() {
                builder = builder.certs(certificates());
            }
            let client = builder.build()?;
            Connection::Cluster(
                tokio::time::timeout(FIRST_CONNECTION, client.get_async_connection())
                    .await
                    .map_err(|_| HoldError::Timeout(FIRST_CONNECTION))??,
            )
        } else {
            let client = match options.ca_pem {
                Some(_) => redis::Client::build_with_tls(url, certificates())?,
                None => redis::Client::open(url)?,
            };
            // One plain connection first: the manager retries a refused TLS handshake for ever, so a wrong CA
            // or a plain-text port would hang the start instead of failing it with the reason.
            tokio::time::timeout(FIRST_CONNECTION, client.get_multiplexed_async_connection())
                .await
                .map_err(|_| HoldError::Timeout(FIRST_CONNECTION))??;
            Connection::Single(ConnectionManager::new(client).await?)
        };
        Ok(Self {
            conn,
            prefix: prefix.to_owned(),
            reserve: std::sync::Arc::new(redis::Script::new(RESERVE_SCRIPT)),
            release: std::sync::Arc::new(redis::Script::new(&format!("{CURRENT_LINES}{RELEASE}"))),
            commit: std::sync::Arc::new(redis::Script::new(&format!("{CURRENT_LINES}{COMMIT}"))),
            reduce: std::sync::Arc::new(redis::Script::new(&format!("{CURRENT_LINES}{REDUCE}"))),
            adjust: std::sync::Arc::new(redis::Script::new(ADJUST)),
            take_ahead: std::sync::Arc::new(redis::Script::new(TAKE_AHEAD)),
        })
    }

    fn key(&self, location: &str, what: &str) -> String {
        format!("{}:{{{location}}}:{what}", self.prefix)
    }

    fn generation_key(&self) -> String {
        format!("{}:generation", self.prefix)
    }

    pub(super) async fn adjust_on_hand(
        &self,
        location: &LocationId,
        sku: &str,
        delta: i64,
        generation: Generation,
    ) -> Result<(), HoldError> {
        let mut conn = self.conn.clone();
        let _: i64 = self
            .adjust
            .key(self.key(location.as_str(), "onhand"))
            .key(self.key(location.as_str(), "gen"))
            .arg(sku)
            .arg(delta)
            .arg(generation)
            .invoke_async(&mut conn)
            .await?;
        Ok(())
    }

    pub(super) async fn take_ahead(
        &self,
        location: &LocationId,
        sku: &str,
        take: crate::domain::TakeAhead,
    ) -> Result<Option<(Generation, i64)>, HoldError> {
        let (units, how) = match take {
            crate::domain::TakeAhead::Nothing => return Ok(None),
            crate::domain::TakeAhead::By(units) => (units, "by"),
            crate::domain::TakeAhead::DownTo(level) => (level, "to"),
        };
        let mut conn = self.conn.clone();
        let answer: Vec<String> = self
            .take_ahead
            .key(self.key(location.as_str(), "onhand"))
            .key(self.key(location.as_str(), "gen"))
            .arg(sku)
            .arg(units)
            .arg(how)
            .invoke_async(&mut conn)
            .await?;
        match answer.as_slice() {
            [] => Ok(None),
            [generation, taken] => Ok(Some((
                generation
                    .parse()
                    .map_err(|_| HoldError::Protocol(format!("{answer:?}")))?,
                taken
                    .parse()
                    .map_err(|_| HoldError::Protocol(format!("{answer:?}")))?,
            ))),
            _ => Err(HoldError::Protocol(format!("{answer:?}"))),
        }
    }

    pub(super) async fn reserve(
        &self,
        id: ReservationId,
        location: &LocationId,
        lines: &[HoldLine],
        keep_back: &KeepBack,
    ) -> Result<ReserveOutcome, HoldError> {
        let loc = location.as_str();
        let mut invocation = self.reserve.prepare_invoke();
        invocation
            .key(self.key(loc, "onhand"))
            .key(self.key(loc, "reserved"))
            .key(self.key(loc, &format!("res:{id}")))
            .key(self.key(loc, "gen"))
            .arg(lines.len());
        for line in lines {
            invocation
                .arg(line.sku.as_str())
                .arg(line.quantity.get())
                .arg(keep_back.get(&line.sku).copied().unwrap_or(0).max(0));
        }
        let mut conn = self.conn.clone();
        let answer: Vec<String> = invocation.invoke_async(&mut conn).await?;
        match answer.first().map(String::as_str) {
            Some("held") => Ok(ReserveOutcome::Held {
                generation: answer
                    .get(1)
                    .and_then(|g| g.parse().ok())
                    .ok_or_else(|| HoldError::Protocol(format!("{answer:?}")))?,
            }),
            Some("unloaded") => Err(HoldError::Unloaded(location.clone())),
            Some("short") => {
                let shortages = answer[1..]
                    .chunks(3)
                    .map(|c| match c {
                        [sku, requested, available] => Ok(Shortage {
                            sku: Sku::parse(sku).map_err(|e| HoldError::Protocol(e.to_string()))?,
                            requested: requested
                                .parse()
                                .map_err(|_| HoldError::Protocol(requested.clone()))?,
                            available: available
                                .parse()
                                .map_err(|_| HoldError::Protocol(available.clone()))?,
                        }),
                        other => Err(HoldError::Protocol(format!("{other:?}"))),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(ReserveOutcome::Short(shortages))
            }
            _ => Err(HoldError::Protocol(format!("{answer:?}"))),
        }
    }

    pub(super) async fn commit(
        &self,
        id: ReservationId,
        location: &LocationId,
        left: Option<&[(String, i64)]>,
    ) -> Result<(), HoldError> {
        let loc = location.as_str();
        let mut conn = self.conn.clone();
        let mut invocation = self.commit.prepare_invoke();
        invocation
            .key(self.key(loc, "onhand"))
            .key(self.key(loc, "reserved"))
            .key(self.key(loc, &format!("res:{id}")))
            .key(self.key(loc, "gen"));
        if let Some(left) = left {
            // A committed hold of which nothing left still names one SKU, so the script knows it is partial.
            invocation.arg("").arg(0);
            for (sku, units) in left {
                invocation.arg(sku).arg(*units);
            }
        }
        let _: i64 = invocation.invoke_async(&mut conn).await?;
        Ok(())
    }

    pub(super) async fn reduce(
        &self,
        id: ReservationId,
        location: &LocationId,
        units: &[(String, i64)],
    ) -> Result<(), HoldError> {
        let loc = location.as_str();
        let mut conn = self.conn.clone();
        let mut invocation = self.reduce.prepare_invoke();
        invocation
            .key(self.key(loc, "reserved"))
            .key(self.key(loc, &format!("res:{id}")))
            .key(self.key(loc, "gen"));
        for (sku, n) in units {
            invocation.arg(sku).arg(*n);
        }
        let _: i64 = invocation.invoke_async(&mut conn).await?;
        Ok(())
    }

    pub(super) async fn release(&self, id: ReservationId, location: &LocationId) -> Result<(), HoldError> {
        let loc = location.as_str();
        let mut conn = self.conn.clone();
        let _: i64 = self
            .release
            .key(self.key(loc, "reserved"))
            .key(self.key(loc, &format!("res:{id}")))
            .key(self.key(loc, "gen"))
            .invoke_async(&mut conn)
            .await?;
        Ok(())
    }

    pub(super) async fn levels(&self, location: &LocationId, sku: &str) -> Result<(i64, i64), HoldError> {
        let mut conn = self.conn.clone();
        let loc = location.as_str();
        let (on_hand, reserved): (Option<i64>, Option<i64>) = redis::pipe()
            .cmd("HGET")
            .arg(self.key(loc, "onhand"))
            .arg(sku)
            .cmd("HGET")
            .arg(self.key(loc, "reserved"))
            .arg(sku)
            .query_async(&mut conn)
            .await?;
        Ok((on_hand.unwrap_or(0), reserved.unwrap_or(0)))
    }

    pub(super) async fn location_levels(
        &self,
        location: &LocationId,
    ) -> Result<std::collections::HashMap<String, (i64, i64)>, HoldError> {
        let mut conn = self.conn.clone();
        let loc = location.as_str();
        let (on_hand, reserved): (
            std::collections::HashMap<String, i64>,
            std::collections::HashMap<String, i64>,
        ) = redis::pipe()
            .cmd("HGETALL")
            .arg(self.key(loc, "onhand"))
            .cmd("HGETALL")
            .arg(self.key(loc, "reserved"))
            .query_async(&mut conn)
            .await?;
        let mut levels: std::collections::HashMap<String, (i64, i64)> = Default::default();
        for (sku, q) in on_hand {
            levels.entry(sku).or_default().0 = q;
        }
        for (sku, q) in reserved {
            levels.entry(sku).or_default().1 = q;
        }
        Ok(levels)
    }

    pub(super) async fn open_location(
        &self,
        location: &LocationId,
        generation: Generation,
    ) -> Result<(), HoldError> {
        if !self.is_loaded().await? {
            return Ok(());
        }
        let mut conn = self.conn.clone();
        let _: Option<String> = redis::cmd("SET")
            .arg(self.key(location.as_str(), "gen"))
            .arg(generation)
            .arg("NX")
            .query_async(&mut conn)
            .await?;
        Ok(())
    }

    pub(super) async fn location_generation(
        &self,
        location: &LocationId,
    ) -> Result<Option<Generation>, HoldError> {
        let mut conn = self.conn.clone();
        let generation: Option<String> = redis::cmd("GET")
            .arg(self.key(location.as_str(), "gen"))
            .query_async(&mut conn)
            .await?;
        generation
            .map(|g| {
                g.parse()
                    .map_err(|_| HoldError::Protocol(format!("generation {g}")))
            })
            .transpose()
    }

    pub(super) async fn is_loaded(&self) -> Result<bool, HoldError> {
        let mut conn = self.conn.clone();
        let generation: Option<String> = redis::cmd("GET")
            .arg(self.generation_key())
            .query_async(&mut conn)
            .await?;
        Ok(generation.is_some())
    }

    pub(super) async fn load(&self, snapshot: &Snapshot) -> Result<(), HoldError> {
        let mut conn = self.conn.clone();
        // What each location holds: its on-hand rows and its holds.
        type Rows<'a> = (Vec<(&'a str, i64)>, Vec<&'a super::SnapshotHold>);
        let mut locations: std::collections::BTreeMap<&str, Rows<'_>> = Default::default();
        for (loc, sku, q) in &snapshot.on_hand {
            locations
                .entry(loc.as_str())
                .or_default()
                .0
                .push((sku.as_str(), *q));
        }
        for hold in &snapshot.holds {
            locations.entry(hold.location.as_str()).or_default().1.push(hold);
        }
        for location in &snapshot.locations {
            locations.entry(location.as_str()).or_default();
        }
        // One atomic pipeline per location (its keys share a cluster slot), ending with the location's generation:
        // holds stamped with an earlier one are no longer counted (the scripts drop them when they meet them).
        // The store's own generation is set last, so a load cut short is simply done again (every step
        // overwrites).
        for (loc, (on_hand, holds)) in &locations {
            let mut pipe = redis::pipe();
            pipe.atomic();
            pipe.cmd("DEL")
                .arg(self.key(loc, "onhand"))
                .arg(self.key(loc, "reserved"))
                .ignore();
            for (sku, q) in on_hand {
                pipe.cmd("HSET")
                    .arg(self.key(loc, "onhand"))
                    .arg(sku)
                    .arg(*q)
                    .ignore();
            }
            for hold in holds {
                let id = &hold.id;
                pipe.cmd("DEL").arg(self.key(loc, &format!("res:{id}"))).ignore();
                pipe.cmd("HSET")
                    .arg(self.key(loc, &format!("res:{id}")))
                    .arg("_gen")
                    .arg(snapshot.generation)
                    .ignore();
                for (sku, q) in &hold.lines {
                    pipe.cmd("HINCRBY")
                        .arg(self.key(loc, "reserved"))
                        .arg(sku)
                        .arg(*q)
                        .ignore();
                    pipe.cmd("HSET")
                        .arg(self.key(loc, &format!("res:{id}")))
                        .arg(sku)
                        .arg(*q)
                        .ignore();
                }
            }
            pipe.cmd("SET")
                .arg(self.key(loc, "gen"))
                .arg(snapshot.generation)
                .ignore();
            let () = pipe.query_async(&mut conn).await?;
        }
        let () = redis::cmd("SET")
            .arg(self.generation_key())
            .arg(snapshot.generation)
            .query_async(&mut conn)
            .await?;
        Ok(())
    }

    pub(super) async fn ping(&self) -> Result<(), HoldError> {
        let mut conn = self.conn.clone();
        let _: String = redis::cmd("PING").query_async(&mut conn).await?;
        Ok(())
    }
}
