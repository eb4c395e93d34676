// The Deliveries, Connections and Users pages: filled in by their features.
