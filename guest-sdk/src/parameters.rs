use serde::de::DeserializeOwned;

/// The vat's `parameters` from the cluster config.
#[derive(Debug, Clone)]
pub struct Parameters {
    json: String,
}

impl Parameters {
    pub(crate) fn new(json: String) -> Self {
        Self { json }
    }

    /// The parameters as JSON text (`null` when the config gives none).
    pub fn as_json(&self) -> &str {
        &self.json
    }

    /// The parameters parsed into `T`.
    pub fn parse<T: DeserializeOwned>(&self) -> crate::Result<T> {
        serde_json::from_str(&self.json)
            .map_err(|error| crate::Error::from(format!("bad parameters: {error}")))
    }

    /// One string-valued field, when the parameters are an object that has it.
    pub fn get_str(&self, key: &str) -> Option<String> {
        let value: serde_json::Value = serde_json::from_str(&self.json).ok()?;
        value.get(key)?.as_str().map(str::to_owned)
    }

    /// One unsigned-integer field, when the parameters are an object that has it.
    pub fn get_u64(&self, key: &str) -> Option<u64> {
        let value: serde_json::Value = serde_json::from_str(&self.json).ok()?;
        value.get(key)?.as_u64()
    }
}
