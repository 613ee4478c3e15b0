//! Domain types and rules, free of HTTP and SQL.

pub mod app_token;
pub mod audit;
pub mod duration;
pub mod email;
pub mod flow;
pub mod identity;
pub mod one_time_token;
pub mod password;
pub mod phone;
pub mod redirect;
pub mod refresh;
pub mod scan_ticket;
pub mod session;
pub mod user;
pub mod user_changes;

pub use identity::Identity;
pub use session::Session;
pub use user::User;
pub use user_changes::UserChanges;
