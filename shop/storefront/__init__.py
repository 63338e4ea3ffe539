"""The store's public pages: a product page where a visitor asks to be texted when it is back."""
