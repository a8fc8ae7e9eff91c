//! `statusboard`: the command line. Parses the flags, opens the `.htpasswd` file and serves the
//! board until Ctrl-C.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use hookrelay_receiver::{BasicAuth, Htpasswd, Receiver};
use statusboard::{router, App, Board};

/// On visitor_queued, show the visitor on a live web page and play a sound.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Port for the board (http://HOST:PORT/) and the webhook URL
    /// (http://livechat:password@HOST:PORT/webhooks); 0 picks a free one.
    #[arg(long, default_value_t = 3002)]
    port: u16,

    /// Address to listen on (0.0.0.0 to accept webhooks from other machines).
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,

    /// Apache .htpasswd file with the users allowed to post webhooks and see the board.
    #[arg(long, value_name = "FILE", default_value = ".htpasswd")]
    htpasswd: PathBuf,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let users = Htpasswd::from_file(&args.htpasswd)
        .map_err(|e| format!("{}: {e}", args.htpasswd.display()))?;
    let app = App {
        receiver: Receiver::with_basic_auth(BasicAuth::Htpasswd(users)).realm("Statusboard"),
        board: Arc::new(Board::default()),
    };
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(args.host, args.port)).await?;
    let address = listener.local_addr()?;
    println!("statusboard: board on http://{address}/, webhooks to http://{address}/webhooks");
    axum::serve(listener, router(app)).await?;
    Ok(())
}
