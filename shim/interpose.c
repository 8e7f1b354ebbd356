/* placeholder: replaced by the protect-mode shim */
