//! Where each page lives, relative to the site's root: one flat file per page
//! in a folder per kind (a file per page: on ext4, creating 100,000 folders costs
//! more than rendering the pages).

/// Site-relative path of a service page.
pub fn service_path(id: &str) -> String {
    format!("services/{id}.html")
}
/// Site-relative path of a version page.
pub fn version_path(id: &str, version: &str) -> String {
    format!("services/{id}@{version}.html")
}
/// Site-relative path of an interface page.
pub fn interface_path(id: &str) -> String {
    format!("interfaces/{id}.html")
}
/// Site-relative path of a publisher page.
pub fn publisher_path(name: &str) -> String {
    format!("publishers/{name}.html")
}
