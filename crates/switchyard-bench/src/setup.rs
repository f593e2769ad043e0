//! The benchmark's world: the fake upstream in a child process (two servers: one answers at
//! once, one streams 50 chunks 20 ms apart) and the released server in another, on SQLite in a
//! fresh directory, furnished through its own API as an operator would: an admin, two
//! suppliers (the fast one with a pool of 4 keys), a capability linked to both models, a user
//! and a gateway key.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use switchyard_testkit::{FakeUpstream, Protocol, Scenario};

use crate::load::{Http, http_client};

pub const FAST_MODEL: &str = "bench-fast";
pub const STREAM_MODEL: &str = "bench-stream";
const ADMIN_PASSWORD: &str = "bench-admin-password-1";
const USER_PASSWORD: &str = "bench-user-password-1";

/// The `fake` role: two fake upstreams in this process; their ports go to standard output, and
/// the process ends when standard input closes (the benchmark went away).
pub fn run_fake() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let fast = FakeUpstream::start().await;
        fast.set_recording(false);
        fast.set(Scenario::text("Hello from the fake upstream."));
        let paced = FakeUpstream::start().await;
        paced.set_recording(false);
        paced.set(
            Scenario::text("word ".repeat(50))
                .with_chunks(50)
                .with_chunk_interval(Duration::from_millis(20)),
        );
        println!("fast={} paced={}", fast.address().port(), paced.address().port());
        std::io::stdout().flush()?;
        tokio::task::spawn_blocking(|| {
            let mut sink = String::new();
            while std::io::stdin()
                .read_line(&mut sink)
                .map(|read| read > 0)
                .unwrap_or(false)
            {}
        })
        .await?;
        drop((fast, paced));
        Ok(())
    })
}

/// The running processes and what the benchmark needs of them.
pub struct World {
    fake: Child,
    server: Child,
    fast_port: u16,
    paced_port: u16,
    port: u16,
    pub gateway_key: String,
    dir: PathBuf,
    http: Http,
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

impl World {
    pub async fn start(server: &str) -> anyhow::Result<Self> {
        let mut fake = Command::new(std::env::current_exe()?)
            .arg("fake")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("cannot start the fake upstream")?;
        let mut line = String::new();
        BufReader::new(fake.stdout.take().context("the fake's output")?).read_line(&mut line)?;
        let port = |name: &str| -> anyhow::Result<u16> {
            line.split_whitespace()
                .find_map(|part| part.strip_prefix(name))
                .and_then(|port| port.trim().parse().ok())
                .with_context(|| format!("the fake upstream said {line:?}"))
        };
        let (fast_port, paced_port) = (port("fast=")?, port("paced=")?);

        let dir = std::env::temp_dir().join(format!("switchyard-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let port = free_port()?;
        let config = dir.join("switchyard.toml");
        std::fs::write(
            &config,
            format!(
                "data_dir = {data:?}\n[server]\nhost = \"127.0.0.1\"\nport = {port}\n",
                data = dir.join("data").display().to_string(),
            ),
        )?;
        let log = std::fs::File::create(dir.join("server.log"))?;
        let mut admin = Command::new(server)
            .args([
                "--config",
                &config.display().to_string(),
                "admin",
                "create",
                "--username",
                "bench",
            ])
            .stdin(Stdio::piped())
            .stdout(log.try_clone()?)
            .stderr(log.try_clone()?)
            .spawn()
            .context("cannot run the server's admin command")?;
        admin
            .stdin
            .take()
            .context("the admin command's input")?
            .write_all(ADMIN_PASSWORD.as_bytes())?;
        if !admin.wait()?.success() {
            bail!("creating the admin failed; see {}", dir.join("server.log").display());
        }
        let server = Command::new(server)
            .args(["--config", &config.display().to_string()])
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("cannot start the server")?;
        let mut world = World {
            fake,
            server,
            fast_port,
            paced_port,
            port,
            gateway_key: String::new(),
            dir,
            http: http_client(),
        };
        world.wait_ready().await?;
        world.furnish().await?;
        Ok(world)
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        for _ in 0..300 {
            if let Ok((200, _)) = self.call("GET", "/health/ready", None, None).await {
                return Ok(());
            }
            if let Some(status) = self.server.try_wait()? {
                bail!(
                    "the server stopped ({status}); see {}",
                    self.dir.join("server.log").display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!(
            "the server did not become ready in 30 s; see {}",
            self.dir.join("server.log").display()
        )
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        crate::load::json_call(
            &self.http,
            method,
            &format!("{}{path}", self.gateway_url()),
            token,
            body,
        )
        .await
    }

    async fn expect(&self, method: &str, path: &str, token: &str, body: Value) -> anyhow::Result<Value> {
        let (status, answer) = self.call(method, path, Some(token), Some(body)).await?;
        if !(200..300).contains(&status) {
            bail!("{method} {path} answered {status}: {answer}");
        }
        Ok(answer)
    }

    async fn login(&self, username: &str, password: &str) -> anyhow::Result<String> {
        let body = json!({"username": username, "password": password});
        let (status, answer) = self.call("POST", "/api/v1/auth/login", None, Some(body)).await?;
        if status != 200 {
            bail!("logging in as {username} answered {status}: {answer}");
        }
        answer["access_token"]
            .as_str()
            .map(str::to_owned)
            .context("the login gave no access token")
    }

    async fn furnish(&mut self) -> anyhow::Result<()> {
        let admin = self.login("bench", ADMIN_PASSWORD).await?;
        let fast_base = format!("http://127.0.0.1:{}/openai/v1", self.fast_port);
        let paced_base = format!("http://127.0.0.1:{}/openai/v1", self.paced_port);
        let supplier = |name: &str, base: &str| json!({"name": name, "protocol": Protocol::OpenAi.as_str(), "base_url": base, "api_key": FakeUpstream::pool_key(1)});
        let fast = self
            .expect("POST", "/api/v1/suppliers", &admin, supplier("fake-fast", &fast_base))
            .await?;
        let paced = self
            .expect("POST", "/api/v1/suppliers", &admin, supplier("fake-paced", &paced_base))
            .await?;
        for n in 2..=4 {
            let key = json!({"supplier_id": fast["id"], "name": format!("key-{n}"), "key": FakeUpstream::pool_key(n)});
            self.expect("POST", "/api/v1/keys", &admin, key).await?;
        }
        let capability = json!({"name": "text_generation", "display_name": "Text generation",
            "input_types": ["text"], "output_types": ["text"], "domain": "nlp"});
        let capability = self.expect("POST", "/api/v1/capabilities", &admin, capability).await?;
        for (name, supplier) in [(FAST_MODEL, &fast), (STREAM_MODEL, &paced)] {
            let model = json!({"name": name, "supplier_id": supplier["id"], "upstream_name": "gpt-4o",
                "model_type": "language", "max_output_tokens": 4096,
                "input_price": 2_000_000, "output_price": 8_000_000, "currency": "USD"});
            let model = self.expect("POST", "/api/v1/models", &admin, model).await?;
            let link = json!({"model_id": model["id"], "capability_id": capability["id"]});
            self.expect("POST", "/api/v1/capabilities/associations", &admin, link)
                .await?;
        }
        let user = json!({"username": "bench-user", "password": USER_PASSWORD, "role": "user"});
        self.expect("POST", "/api/v1/admin/users", &admin, user).await?;
        let user = self.login("bench-user", USER_PASSWORD).await?;
        let key = self
            .expect("POST", "/api/v1/api-keys", &user, json!({"name": "bench"}))
            .await?;
        self.gateway_key = key["secret"].as_str().context("the gateway key's secret")?.to_owned();
        Ok(())
    }

    pub fn gateway_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn fast_url(&self) -> String {
        format!("http://127.0.0.1:{}/openai/v1", self.fast_port)
    }

    pub fn paced_url(&self) -> String {
        format!("http://127.0.0.1:{}/openai/v1", self.paced_port)
    }

    pub fn server_pid(&self) -> u32 {
        self.server.id()
    }

    /// The server's resident memory now, in KiB.
    pub fn resident_kib(&self) -> anyhow::Result<u64> {
        crate::load::resident_kib(self.server.id())
    }

    /// The rows the call log has written, from the server's metrics.
    pub async fn call_log_rows(&self) -> anyhow::Result<i64> {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let text = crate::load::text_call(&self.http, &format!("{}/metrics", self.gateway_url())).await?;
        text.lines()
            .find(|line| line.contains("call_log_entries{state=\"written\"}"))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|value| value.parse::<f64>().ok())
            .map(|value| value as i64)
            .context("the metrics show no call_log_entries")
    }

    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for World {
    /// Stops both processes and removes the directory, also when the benchmark fails midway.
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        drop(self.fake.stdin.take());
        let _ = self.fake.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
