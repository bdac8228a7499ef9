"""Staff console pages. Views parse the request, check the declared permission, call selectors
or services, and render; nothing else of substance happens here."""
