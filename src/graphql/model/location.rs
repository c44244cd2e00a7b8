use async_graphql::SimpleObject;

/// Where a client was, as told by a trusted proxy.
#[derive(SimpleObject, Clone, Debug)]
pub struct Location {
    /// ISO 3166-1 alpha-2 country code.
    pub country: Option<String>,
    /// City name.
    pub city: Option<String>,
}

impl Location {
    /// A location from a row's country and city columns; `None` when neither is known.
    pub fn from_parts(country: &Option<String>, city: &Option<String>) -> Option<Self> {
        (country.is_some() || city.is_some()).then(|| Location {
            country: country.clone(),
            city: city.clone(),
        })
    }
}
