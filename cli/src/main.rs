//! `kv`: inspect any key-value store and copy data between stores.
//!
//! Every command takes `--store URL` (or `KV_STORE`); without it, `kv` uses the embedded
//! DiskStore in the platform's data directory (`~/.local/share/key-value` on Linux). Values are
//! JSON objects, given on the command line or on stdin, printed as JSON.
//!
//! Exit status: 0 on success, 1 when `get`/`ttl` find nothing, 2 on any error (one line on
//! stderr).

mod copy;

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use key_value::prelude::*;

const EXAMPLES: &str = "\
Examples:
  kv put user:1 '{\"name\": \"Alice\"}' --collection users --ttl 3600
  echo '{\"name\": \"Bob\"}' | kv put user:2 --collection users
  kv get user:1 --collection users
  kv ttl user:1 --collection users
  kv keys --collection users
  kv collections
  kv delete user:1 --collection users
  kv --store memory:// collections
  kv copy --from disk:///var/cache/app --to filetree:///tmp/inspect
  KV_STORE=filetree:///tmp/inspect kv keys --collection users

Stores: memory://, simple://, null://, disk:///DIR, multidisk:///DIR, filetree:///DIR,
        redis://HOST:PORT/DB, rediss://..., valkey://..., memcached://HOST:PORT,
        mongodb://HOST:PORT/?db=NAME, postgresql://USER@HOST:PORT/DB, mysql://USER@HOST:PORT/DB";

/// Inspect any key-value store and copy data between stores.
#[derive(Parser, Debug)]
#[command(name = "kv", version, about, after_help = EXAMPLES)]
struct Cli {
    /// The store, as a URL (default: the embedded DiskStore in the platform's data directory).
    #[arg(long, global = true, env = "KV_STORE", value_name = "URL")]
    store: Option<String>,

    /// Pretty-print JSON output.
    #[arg(long, global = true)]
    pretty: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug)]
struct KeyArgs {
    /// The key.
    key: String,
    /// The collection (default: the store's default collection).
    #[arg(long, short)]
    collection: Option<String>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print a key's value as JSON (exit status 1 if missing or expired).
    Get(KeyArgs),
    /// Store a JSON object under a key: VALUE, or stdin when VALUE is absent or `-`.
    Put {
        #[command(flatten)]
        target: KeyArgs,
        /// The value, a JSON object.
        value: Option<String>,
        /// Time to live in seconds (positive; fractions allowed).
        #[arg(long, allow_negative_numbers = true)]
        ttl: Option<f64>,
    },
    /// Delete a key; prints whether it existed.
    Delete(KeyArgs),
    /// Print a key's value and remaining TTL in seconds (null: never expires).
    Ttl(KeyArgs),
    /// List a collection's keys, one per line.
    Keys {
        /// The collection (default: the store's default collection).
        #[arg(long, short)]
        collection: Option<String>,
        /// At most this many keys.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// List the store's collections, one per line.
    Collections {
        /// At most this many collections.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Copy every live entry, with its remaining TTL, from one store to another.
    Copy {
        /// The source store URL.
        #[arg(long, value_name = "URL")]
        from: String,
        /// The destination store URL.
        #[arg(long, value_name = "URL")]
        to: String,
        /// Copy only these collections (repeatable; default: every collection of the source).
        #[arg(long, short)]
        collection: Vec<String>,
    },
}

/// What `main` reports: success, "not found", or an error line.
enum Outcome {
    Done,
    NotFound,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kv: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::NotFound) => ExitCode::from(1),
        Err(e) => {
            eprintln!("kv: {e}");
            ExitCode::from(2)
        }
    }
}

/// The embedded default: a DiskStore in the platform's data directory.
fn default_store_url() -> Result<String> {
    let dir: PathBuf = dirs::data_dir()
        .map(|d| d.join("key-value"))
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Config,
                "no data directory on this platform: pass --store or set KV_STORE",
            )
        })?;
    Ok(format!("disk://{}", dir.display()))
}

fn open_store(url: Option<&str>) -> Result<SharedStore> {
    match url {
        Some(url) => key_value::open(url),
        None => key_value::open(&default_store_url()?),
    }
}

fn print_json(value: &serde_json::Value, pretty: bool) {
    let text = if pretty {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    };
    // Serializing a serde_json::Value cannot fail.
    println!("{}", text.unwrap_or_default());
}

fn read_value(arg: Option<String>) -> Result<Object> {
    let text = match arg.as_deref() {
        None | Some("-") => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(|e| {
                Error::new(
                    ErrorKind::InvalidArgument,
                    format!("cannot read stdin: {e}"),
                )
            })?;
            text
        }
        Some(text) => text.to_string(),
    };
    let value: serde_json::Value = serde_json::from_str(text.trim()).map_err(|e| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("the value is not valid JSON: {e}"),
        )
    })?;
    value.into_object()
}

async fn run(cli: Cli) -> Result<Outcome> {
    let pretty = cli.pretty;
    match cli.command {
        Command::Copy {
            from,
            to,
            collection,
        } => {
            let source = key_value::open(&from)?;
            let destination = key_value::open(&to)?;
            let summary = copy::copy(&source, &destination, &collection).await?;
            println!("{summary}");
            source.close().await?;
            destination.close().await?;
            if summary.failed > 0 {
                return Err(Error::new(
                    ErrorKind::Backend,
                    format!("{} entries could not be copied", summary.failed),
                ));
            }
            Ok(Outcome::Done)
        }
        command => {
            let store = open_store(cli.store.as_deref())?;
            let outcome = run_on(&store, command, pretty).await;
            store.close().await?;
            outcome
        }
    }
}

async fn run_on(store: &SharedStore, command: Command, pretty: bool) -> Result<Outcome> {
    match command {
        Command::Get(KeyArgs { key, collection }) => {
            let c = store
                .info()
                .resolve_collection(collection.as_deref())
                .to_string();
            match store.get(&key).collection(&c).await? {
                Some(value) => {
                    print_json(&serde_json::Value::Object(value), pretty);
                    Ok(Outcome::Done)
                }
                None => {
                    eprintln!("kv: no key '{key}' in collection '{c}'");
                    Ok(Outcome::NotFound)
                }
            }
        }
        Command::Put {
            target: KeyArgs { key, collection },
            value,
            ttl,
        } => {
            let value = read_value(value)?;
            let c = store
                .info()
                .resolve_collection(collection.as_deref())
                .to_string();
            store.put(&key, value).collection(&c).ttl_opt(ttl).await?;
            Ok(Outcome::Done)
        }
        Command::Delete(KeyArgs { key, collection }) => {
            let c = store
                .info()
                .resolve_collection(collection.as_deref())
                .to_string();
            let deleted = store.delete(&key).collection(&c).await?;
            println!("{deleted}");
            Ok(Outcome::Done)
        }
        Command::Ttl(KeyArgs { key, collection }) => {
            let c = store
                .info()
                .resolve_collection(collection.as_deref())
                .to_string();
            match store.ttl(&key).collection(&c).await? {
                Some((value, ttl)) => {
                    let ttl = ttl.map(|d: Duration| d.as_secs_f64());
                    print_json(&serde_json::json!({"value": value, "ttl": ttl}), pretty);
                    Ok(Outcome::Done)
                }
                None => {
                    eprintln!("kv: no key '{key}' in collection '{c}'");
                    Ok(Outcome::NotFound)
                }
            }
        }
        Command::Keys { collection, limit } => {
            let c = store
                .info()
                .resolve_collection(collection.as_deref())
                .to_string();
            let mut request = store.keys().collection(&c);
            if let Some(limit) = limit {
                request = request.limit(limit);
            }
            for key in request.await? {
                println!("{key}");
            }
            Ok(Outcome::Done)
        }
        Command::Collections { limit } => {
            let mut request = store.collections();
            if let Some(limit) = limit {
                request = request.limit(limit);
            }
            for name in request.await? {
                println!("{name}");
            }
            Ok(Outcome::Done)
        }
        Command::Copy { .. } => Err(Error::new(
            ErrorKind::InvalidArgument,
            "copy takes --from and --to, not --store",
        )),
    }
}
