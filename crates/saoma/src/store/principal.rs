//! What a token check reads: a user with the session its token names and its identities.

use bytes::Bytes;
use std::sync::OnceLock;
use uuid::Uuid;

use crate::domain::{Identity, Session, User};

/// (user, session named by the token): what a token check reads.
pub(crate) type PrincipalKey = (Uuid, Option<Uuid>);

/// What an access token stands for: its user, the session it names and the user's identities.
/// Read in one statement, because every authenticated request needs it.
#[derive(Debug)]
pub struct Principal {
    pub user: User,
    /// The session asked for, when it exists and belongs to the user.
    pub session: Option<Session>,
    /// Oldest first.
    pub identities: Vec<Identity>,
    /// See [`Principal::rendered`].
    rendered: OnceLock<Bytes>,
}

impl Principal {
    pub fn new(user: User, session: Option<Session>, identities: Vec<Identity>) -> Self {
        Self {
            user,
            session,
            identities,
            rendered: OnceLock::new(),
        }
    }

    /// The HTTP answer made from this principal by `render`, made at most once per read: a
    /// principal read from the store is shared, never changed (on SQLite one read may answer
    /// many requests, see `sqlite::reads`).
    pub fn rendered<E>(
        &self,
        render: impl FnOnce(&Self) -> Result<Vec<u8>, E>,
    ) -> Result<Bytes, E> {
        if let Some(bytes) = self.rendered.get() {
            return Ok(bytes.clone());
        }
        let bytes = Bytes::from(render(self)?);
        Ok(self.rendered.get_or_init(|| bytes).clone())
    }
}

impl Clone for Principal {
    /// A copy may be changed: it starts without the rendered answer.
    fn clone(&self) -> Self {
        Self::new(
            self.user.clone(),
            self.session.clone(),
            self.identities.clone(),
        )
    }
}

impl PartialEq for Principal {
    /// The same rows; `rendered` is derived from them.
    fn eq(&self, other: &Self) -> bool {
        self.user == other.user
            && self.session == other.session
            && self.identities == other.identities
    }
}
