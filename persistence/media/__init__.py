"""Media bytes: where uploads and thumbnails are kept (:mod:`persistence.media.storage`), how thumbnails are made
(:mod:`persistence.media.thumbnailer`) and recorded (:mod:`persistence.media.thumbnails`)."""
