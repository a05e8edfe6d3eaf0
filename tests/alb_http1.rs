//! The client side of HTTP/1.1, as tierlab's own server speaks it (`src/alb/http1`), byte for
//! byte from raw sockets: pipelining, HEAD in a pipeline, HTTP/1.0 keep-alive and close-framed
//! bodies, chunked uploads with trailers, both framings at once, malformed and oversized heads,
//! and a response that is read whole although the request body was never read.

mod support;

use std::time::Duration;

use tierlab::alb::TargetGroupHandle;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use support::alb::Alb;
use support::config::{
    any_port, forward, http_listener, load_balancer, redirect_to_https, target_group,
};
use support::{backend, wait_until};

const WAIT: Duration = Duration::from_secs(5);

/// A response as read off the wire.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads one response from `conn` (bytes past it stay in `buf`); `head_only` for a HEAD.
async fn read_answer(conn: &mut TcpStream, buf: &mut Vec<u8>, head_only: bool) -> Answer {
    let end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        fill(conn, buf).await;
    };
    let head = String::from_utf8(buf.drain(..end).collect()).unwrap();
    let status = head[9..12].parse().unwrap();
    let mut answer = Answer {
        status,
        head,
        body: Vec::new(),
    };
    if head_only || status == 204 || status == 304 {
        return answer;
    }
    if let Some(len) = answer.header("content-length") {
        let len: usize = len.parse().unwrap();
        while buf.len() < len {
            fill(conn, buf).await;
        }
        answer.body = buf.drain(..len).collect();
    } else if answer.header("transfer-encoding") == Some("chunked") {
        loop {
            let line_end = loop {
                if let Some(at) = buf.windows(2).position(|w| w == b"\r\n") {
                    break at;
                }
                fill(conn, buf).await;
            };
            let size = usize::from_str_radix(std::str::from_utf8(&buf[..line_end]).unwrap(), 16);
            let size = size.unwrap();
            buf.drain(..line_end + 2);
            while buf.len() < size + 2 {
                fill(conn, buf).await;
            }
            answer.body.extend(buf.drain(..size));
            buf.drain(..2);
            if size == 0 {
                break;
            }
        }
    } else {
        // Framed by the close.
        conn.read_to_end(buf).await.unwrap();
        answer.body = std::mem::take(buf);
    }
    answer
}

async fn fill(conn: &mut TcpStream, buf: &mut Vec<u8>) {
    let mut chunk = [0u8; 8192];
    let n = tokio::time::timeout(WAIT, conn.read(&mut chunk))
        .await
        .expect("no answer in time")
        .unwrap();
    assert!(
        n > 0,
        "closed mid-answer; had {:?}",
        String::from_utf8_lossy(buf)
    );
    buf.extend_from_slice(&chunk[..n]);
}

/// Whether the load balancer closes `conn` (within [`WAIT`]) without sending anything more.
async fn closes(conn: &mut TcpStream) -> bool {
    let mut rest = Vec::new();
    match tokio::time::timeout(WAIT, conn.read_to_end(&mut rest)).await {
        Ok(Ok(_)) => rest.is_empty(),
        Ok(Err(_)) => true,
        Err(_) => false,
    }
}

async fn one_backend() -> (Alb, support::BackendHandle, TargetGroupHandle) {
    let a = backend()
        .name("a")
        .trickle_path("/trickle", Duration::from_millis(50));
    let a = a.run().await;
    let group = TargetGroupHandle::new(target_group("tg"));
    group.register("a", a.addr);
    let cfg = load_balancer(
        vec![http_listener(any_port(), forward("tg"))],
        Duration::from_secs(30),
    );
    let alb = Alb::start_config(&cfg, &[&group]).await;
    wait_until(&group, "healthy", |g| g.healthy_count() == 1).await;
    (alb, a, group)
}

async fn connect(alb: &Alb) -> TcpStream {
    TcpStream::connect(alb.lb.endpoints()[0].addr)
        .await
        .unwrap()
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order_a_head_among_them() {
    let (alb, a, _group) = one_backend().await;
    let mut conn = connect(&alb).await;
    conn.write_all(
        b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n\
          HEAD /2 HTTP/1.1\r\nHost: x\r\n\r\n\
          POST /3 HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody\
          GET /4 HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await
    .unwrap();
    let mut buf = Vec::new();
    let first = read_answer(&mut conn, &mut buf, false).await;
    assert_eq!((first.status, first.text().as_str()), (200, "a"));
    let head = read_answer(&mut conn, &mut buf, true).await;
    assert_eq!(head.status, 200);
    let post = read_answer(&mut conn, &mut buf, false).await;
    assert_eq!(post.text(), "a:4", "{post:?}");
    let last = read_answer(&mut conn, &mut buf, false).await;
    assert_eq!(last.text(), "a");
    assert!(buf.is_empty(), "{:?}", String::from_utf8_lossy(&buf));
    assert_eq!(a.hits(), 4);
    // Still open for more.
    conn.write_all(b"GET /5 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_answer(&mut conn, &mut buf, false).await.status, 200);
    alb.stop().await;
}

#[tokio::test]
async fn http10_clients_keep_the_connection_only_when_they_ask() {
    let (alb, _a, _group) = one_backend().await;
    let mut conn = connect(&alb).await;
    let mut buf = Vec::new();
    conn.write_all(b"GET / HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
        .await
        .unwrap();
    let kept = read_answer(&mut conn, &mut buf, false).await;
    assert_eq!(kept.header("connection"), Some("keep-alive"), "{kept:?}");
    conn.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let last = read_answer(&mut conn, &mut buf, false).await;
    assert_eq!(last.header("connection"), Some("close"), "{last:?}");
    assert!(closes(&mut conn).await);

    // A body of unknown length (the target streams it in chunks) ends with the connection
    // for HTTP/1.0, which has no chunks; HTTP/1.1 gets chunks.
    let mut conn = connect(&alb).await;
    conn.write_all(b"GET /trickle HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let old = read_answer(&mut conn, &mut buf, false).await;
    assert_eq!(old.text(), "firstsecond");
    assert_eq!(old.header("transfer-encoding"), None, "{old:?}");
    assert_eq!(old.header("connection"), Some("close"), "{old:?}");
    let mut conn = connect(&alb).await;
    conn.write_all(b"GET /trickle HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let new = read_answer(&mut conn, &mut buf, false).await;
    assert_eq!(new.header("transfer-encoding"), Some("chunked"), "{new:?}");
    assert_eq!(new.text(), "firstsecond");
    alb.stop().await;
}

#[tokio::test]
async fn a_chunked_upload_with_trailers_arrives_whole() {
    let (alb, _a, _group) = one_backend().await;
    let mut conn = connect(&alb).await;
    conn.write_all(
        b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
          5\r\nhello\r\n",
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    conn.write_all(b"6;ext=1\r\n world\r\n0\r\nx-sum: 11\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let answer = read_answer(&mut conn, &mut buf, false).await;
    assert_eq!((answer.status, answer.text().as_str()), (200, "a:11"));
    // The connection goes on.
    conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_answer(&mut conn, &mut buf, false).await.status, 200);
    alb.stop().await;
}

#[tokio::test]
async fn both_framings_at_once_take_the_chunks_and_close_the_connection() {
    let (alb, _a, _group) = one_backend().await;
    let mut conn = connect(&alb).await;
    // Smuggling's shape: a length that would end the body early, chunks that say otherwise.
    conn.write_all(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n\
          5\r\nhello\r\n0\r\n\r\n",
    )
    .await
    .unwrap();
    let mut buf = Vec::new();
    let answer = read_answer(&mut conn, &mut buf, false).await;
    assert_eq!(answer.text(), "a:5", "{answer:?}");
    assert_eq!(answer.header("connection"), Some("close"));
    assert!(closes(&mut conn).await);
    alb.stop().await;
}

#[tokio::test]
async fn malformed_and_oversized_heads_are_refused_and_closed() {
    let (alb, a, _group) = one_backend().await;
    for (raw, status) in [
        (b"GET / HTTP/1.1\r\nbad name: x\r\n\r\n".to_vec(), 400),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 2\r\n\r\n".to_vec(),
            400,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n".to_vec(),
            400,
        ),
        (
            {
                let fields: String = (0..101).map(|i| format!("x-{i}: v\r\n")).collect();
                format!("GET / HTTP/1.1\r\nHost: x\r\n{fields}\r\n").into_bytes()
            },
            431,
        ),
    ] {
        let mut conn = connect(&alb).await;
        conn.write_all(&raw).await.unwrap();
        let mut buf = Vec::new();
        let answer = read_answer(&mut conn, &mut buf, false).await;
        let shown = String::from_utf8_lossy(&raw);
        assert_eq!(answer.status, status, "{shown}");
        assert_eq!(answer.header("connection"), Some("close"), "{shown}");
        assert!(closes(&mut conn).await, "{shown}");
    }
    assert_eq!(a.hits(), 0, "nothing reached the target");
    alb.stop().await;
}

#[tokio::test]
async fn an_answer_given_without_reading_the_body_reaches_the_client_whole() {
    // A redirect listener never reads the request's body.
    let cfg = load_balancer(
        vec![http_listener(any_port(), redirect_to_https(8443))],
        Duration::from_secs(30),
    );
    let alb = Alb::start_config(&cfg, &[]).await;
    let mut conn = connect(&alb).await;
    conn.write_all(b"POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
        .await
        .unwrap();
    conn.write_all(&[b'x'; 64 * 1024]).await.unwrap();
    let mut buf = Vec::new();
    let answer = read_answer(&mut conn, &mut buf, false).await;
    assert_eq!(answer.status, 301, "{answer:?}");
    assert_eq!(answer.header("location"), Some("https://x:8443/form"));
    // The rest of the body cannot be told from a next request: the connection ends.
    let mut rest = Vec::new();
    let ended = tokio::time::timeout(WAIT, conn.read_to_end(&mut rest)).await;
    assert!(ended.is_ok(), "still open");
    alb.stop().await;
}
