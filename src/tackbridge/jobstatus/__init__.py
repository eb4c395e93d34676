"""Job status: what a lead's job became on the pro's side, pushed to Thumbtack."""
