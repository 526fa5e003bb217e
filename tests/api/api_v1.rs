//! The JSON API: tokens (created and shown once, hashed, scoped, revoked),
//! bearer-only authentication, the queue, caps and consent as on the pages,
//! the hub's posts, reports with the pages' suppression, one error shape and
//! the OpenAPI document.
