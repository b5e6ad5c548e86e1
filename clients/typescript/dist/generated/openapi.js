export {};
//# sourceMappingURL=openapi.js.map