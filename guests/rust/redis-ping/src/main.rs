//! `redis-ping HOST:PORT [KEY [VALUE]]`: talks RESP to a real redis-server
//! through sandnet: `PING`, `SET KEY VALUE`, `GET KEY`, one reply per line.
//!
//! `HOST:PORT` may also be a full `tcp://` or `tls://` URL. Prints
//! `PONG`, `OK` and the value read back. Exits 0 on success, 1 on a
//! `net-error` or a Redis error reply (`redis-ping: <error>` on stderr), 2 on
//! bad usage.

use sandnet_guest::process::exit;
use sandnet_guest::tcp::TcpStream;

const USAGE: &str = "usage: redis-ping HOST:PORT [KEY [VALUE]]";
/// Longest reply line (status, error, integer or bulk header) accepted.
const MAX_LINE: u32 = 64 * 1024;
/// Largest bulk value read back.
const MAX_BULK: usize = 1 << 20;

/// A RESP reply, enough of it for PING/SET/GET.
enum Reply {
    Status(String),
    Error(String),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (addr, key, value) = match args.as_slice() {
        [addr] => (addr, "sandnet:ping", "hello from sandnet"),
        [addr, key] => (addr, key.as_str(), "hello from sandnet"),
        [addr, key, value] => (addr, key.as_str(), value.as_str()),
        _ => {
            eprintln!("redis-ping: {USAGE}");
            exit(2);
        }
    };
    let url = if addr.contains("://") {
        addr.clone()
    } else {
        format!("tcp://{addr}")
    };
    if let Err(err) = run(&url, key, value) {
        eprintln!("redis-ping: {err}");
        exit(1);
    }
}

fn run(url: &str, key: &str, value: &str) -> Result<(), String> {
    let mut redis = TcpStream::connect(url).map_err(|e| e.to_string())?;
    for command in [vec!["PING"], vec!["SET", key, value], vec!["GET", key]] {
        redis
            .write_all(&encode(&command))
            .map_err(|e| e.to_string())?;
        match read_reply(&mut redis)? {
            Reply::Status(s) => println!("{s}"),
            Reply::Integer(n) => println!("{n}"),
            Reply::Bulk(Some(data)) => println!("{}", String::from_utf8_lossy(&data)),
            Reply::Bulk(None) => println!("(nil)"),
            Reply::Error(e) => return Err(format!("{} failed: {e}", command[0])),
        }
    }
    Ok(())
}

/// A command as a RESP array of bulk strings.
fn encode(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn read_reply(redis: &mut TcpStream) -> Result<Reply, String> {
    let line = redis
        .read_until(b"\r\n", MAX_LINE)
        .map_err(|e| e.to_string())?;
    let Some(line) = line.strip_suffix(b"\r\n") else {
        return Err("server closed the connection mid-reply".to_owned());
    };
    let (kind, rest) = line.split_first().ok_or("empty reply line")?;
    let text = String::from_utf8_lossy(rest).into_owned();
    match kind {
        b'+' => Ok(Reply::Status(text)),
        b'-' => Ok(Reply::Error(text)),
        b':' => text
            .parse()
            .map(Reply::Integer)
            .map_err(|_| format!("bad integer reply {text:?}")),
        b'$' => {
            let len: i64 = text
                .parse()
                .map_err(|_| format!("bad bulk length {text:?}"))?;
            if len < 0 {
                return Ok(Reply::Bulk(None));
            }
            let len = usize::try_from(len).map_err(|_| "bulk length too large")?;
            if len > MAX_BULK {
                return Err(format!("bulk reply of {len} bytes exceeds {MAX_BULK}"));
            }
            let mut data = redis.read_exact(len + 2).map_err(|e| e.to_string())?;
            data.truncate(len);
            Ok(Reply::Bulk(Some(data)))
        }
        other => Err(format!("unexpected reply type {:?}", char::from(*other))),
    }
}
