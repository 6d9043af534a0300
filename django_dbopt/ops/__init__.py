"""Operations: the report permissions, the admin overview page and alerts."""
