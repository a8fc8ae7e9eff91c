//! `visitor-details`: the command line. Parses the flags, opens the `.htpasswd` file and the
//! customer database, and serves the integration until Ctrl-C.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use hookrelay_receiver::{BasicAuth, Htpasswd, Receiver, VisitorsClient};
use visitor_details::{router, App, Customers};

/// On chat_started, look the visitor up in a SQLite customer database and show agents their
/// age and position through the Visitors API.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Port for the webhook URL `http://livechat:password@HOST:PORT/webhooks`; 0 picks a free one.
    #[arg(long, default_value_t = 3001)]
    port: u16,

    /// Address to listen on (0.0.0.0 to accept webhooks from other machines).
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,

    /// Apache .htpasswd file with the users allowed to post webhooks.
    #[arg(long, value_name = "FILE", default_value = ".htpasswd")]
    htpasswd: PathBuf,

    /// SQLite customer database; created from customers.sql when it does not exist.
    #[arg(long, value_name = "FILE", default_value = "customers.db")]
    db: PathBuf,

    /// Base URL of the Visitors API: a hookrelay server, or https://api.livechatinc.com.
    #[arg(
        long,
        value_name = "URL",
        env = "VISITORS_API",
        default_value = "http://127.0.0.1:8080"
    )]
    api: String,

    /// The name of the detail set agents see.
    #[arg(long, value_name = "ID", default_value = "my-integration")]
    integration_id: String,

    /// A 64×64 icon for the detail set, without the scheme (example.com/ico-64.png).
    #[arg(long, value_name = "URL")]
    icon: Option<String>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let users = Htpasswd::from_file(&args.htpasswd)
        .map_err(|e| format!("{}: {e}", args.htpasswd.display()))?;
    let customers = Customers::open(&args.db)
        .map_err(|e| format!("customer database {}: {e}", args.db.display()))?;
    let app = App {
        receiver: Receiver::with_basic_auth(BasicAuth::Htpasswd(users)).realm("My Protected Area"),
        visitors: VisitorsClient::new(&args.api)?,
        customers: Arc::new(customers),
        integration_id: args.integration_id,
        icon: args.icon,
    };
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(args.host, args.port)).await?;
    println!(
        "visitor-details: webhooks to http://{}/webhooks, details to {}, customers in {}",
        listener.local_addr()?,
        args.api,
        args.db.display()
    );
    axum::serve(listener, router(app)).await?;
    Ok(())
}
